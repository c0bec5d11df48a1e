"""What tests and benchmarks share, so neither imports the other nor copies helpers: the real parts
of their own (postgres, redis: private servers they can restart; ova: the appliance OVA built and
served; servers: an HTTPS server that is not vCenter; net: free ports), what they make through the
product (spec: a valid spec, the registered vCenter and NSX; wizard: the wizard driven through the
test client; factories: deployment and run rows; runs: waiting on runs), the API's conventions
(api) and running a benchmark as a user does (processes). Nothing here is imported by the product."""
