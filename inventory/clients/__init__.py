"""All code that talks to vCenter (pyvmomi) and NSX Manager (HTTP) lives in this package."""
