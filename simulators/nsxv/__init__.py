"""An NSX for vSphere (NSX-v 6.x) Manager emulator for tests, CI and `make demo`.

It serves the read-only part of the NSX-v REST API that the VIO Manager and the vmware-nsx Neutron
plugin use, over HTTPS with Basic (or AUTHTOKEN) authentication, in XML or JSON. Its data is read
at start from the vCenter (simulator) it is pointed at, so moids and names agree with vCenter.
Element structure follows the `responses: 200` examples of VMware's NSX-v 6.4 RAML spec.

    python -m simulators.nsxv --vcenter-host H --vcenter-port P --vcenter-user U \
        --vcenter-password W --vcenter-fingerprint FP [--listen 127.0.0.1:0] [--edges 7]

Modules: vcenter (read the inventory), model (the NSX objects and their documents), render
(XML/JSON), faults (the control endpoint's rules), auth, server (HTTP), certificate.
"""
