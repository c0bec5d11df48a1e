"""An NSX for vSphere (NSX-v 6.x) Manager emulator for tests, CI and `make demo`.

It serves the read-only part of the NSX-v REST API that the VIO Manager and the vmware-nsx Neutron
plugin use, over HTTPS with Basic (or AUTHTOKEN) authentication, in XML or JSON. Its data comes
from the vCenter (simulator) it is pointed at, re-read when older than --vcenter-refresh seconds,
so moids and names agree with vCenter and follow its changes. XML structure follows the
`responses: 200` examples of VMware's NSX-v 6.4 RAML spec; JSON the shapes NSX-v clients read
(plural list fields such as `vnics.vnics`, no root element). A wrong user name or password gets
403 without an NSX error body, as on NSX-v; a missing header or a bad token gets 401.

    python -m simulators.nsxv --vcenter-host H --vcenter-port P --vcenter-user U \
        --vcenter-password W --vcenter-fingerprint FP [--listen 127.0.0.1:0] [--edges 7] \
        [--vcenter-refresh 2]

Modules: vcenter (read the inventory), model (the NSX objects and their documents), render
(XML/JSON), faults (the control endpoint's rules), auth, server (HTTP), certificate.
"""
