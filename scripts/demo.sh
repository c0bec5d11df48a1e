#!/usr/bin/env bash
# make demo: VIO Manager on the bundled simulators, with nothing but Python and Go.
# Web on http://127.0.0.1:8000, a Celery worker (with beat), the inventory watcher (manage.py
# watch_inventory: keeps every vCenter's picture live), the vCenter simulator on 127.0.0.1:8989 and
# the NSX-v Manager emulator on 127.0.0.1:8990.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_DEBUG=${DJANGO_DEBUG:-0}
export VIO_HTTPS=0                       # plain HTTP, on loopback only
export DJANGO_ALLOWED_HOSTS=${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}
WEB=${VIO_DEMO_WEB:-127.0.0.1:8000}
export VIO_PUBLIC_URL=${VIO_PUBLIC_URL:-http://$WEB/}   # what the appliance registers in vCenter
VCSIM_LISTEN=${VIO_DEMO_VCSIM:-127.0.0.1:8989}
NSXV_LISTEN=${VIO_DEMO_NSXV:-127.0.0.1:8990}
OVA_LISTEN=${VIO_DEMO_OVA:-127.0.0.1:8991}
# The demo's OVA server is on loopback, which the appliance refuses to download from unless allowed.
export VIO_OVA_ALLOWED_NETWORKS=${VIO_OVA_ALLOWED_NETWORKS:-${OVA_LISTEN%:*}/32}
DEMO_PASSWORD=VMware1!          # the simulators' administrator password (both)
# Visible progress for the deployment steps (milliseconds each call stays "running").
VCSIM_DELAYS=${VIO_DEMO_TASK_DELAY:-CloneVM_Task=4000,PowerOnVM_Task=2000,CustomizeVM_Task=1500,ReconfigureComputeResource_Task=1000}
mkdir -p var/log var/vcsim var/nsxv

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "Stopping VIO Manager demo…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "Stopped."
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0
admin_lines=$($PY manage.py create_admin | sed 's/^/  /')

# The certificate is kept in var/vcsim/ so that its fingerprint, once accepted, stays valid.
var/bin/vcsim -listen "$VCSIM_LISTEN" -cert var/vcsim/cert.pem -key var/vcsim/key.pem \
  -task-delay "$VCSIM_DELAYS" > var/vcsim/ready.json 2> var/log/vcsim.log &
pids+=($!)
for _ in $(seq 1 100); do [ -s var/vcsim/ready.json ] && break; sleep 0.1; done
[ -s var/vcsim/ready.json ] || { echo "The vCenter simulator did not start: see var/log/vcsim.log" >&2; exit 1; }
vcsim_fingerprint=$($PY -c 'import json; print(json.load(open("var/vcsim/ready.json"))["fingerprint_sha256"])')

# The NSX-v Manager emulator, consistent with the simulated vCenter (its cluster and switch ids).
NSXV_PASSWORD=$DEMO_PASSWORD NSXV_VCENTER_PASSWORD=$DEMO_PASSWORD $PY -m simulators.nsxv \
  --vcenter-host "${VCSIM_LISTEN%:*}" --vcenter-port "${VCSIM_LISTEN##*:}" \
  --vcenter-user administrator@vsphere.local --vcenter-fingerprint "$vcsim_fingerprint" \
  --listen "$NSXV_LISTEN" --cert var/nsxv/cert.pem --key var/nsxv/key.pem > var/nsxv/ready.json 2> var/log/nsxv.log &
pids+=($!)
for _ in $(seq 1 100); do [ -s var/nsxv/ready.json ] && break; sleep 0.1; done
[ -s var/nsxv/ready.json ] || { echo "The NSX-v emulator did not start: see var/log/nsxv.log" >&2; exit 1; }

$PY -m celery -A vio_manager worker --beat --concurrency 2 --loglevel INFO > var/log/worker.log 2>&1 &
pids+=($!)
# The live inventory: one watcher per vCenter, under a lease in the database (see README).
$PY manage.py watch_inventory > var/log/watcher.log 2>&1 &
pids+=($!)
# The appliance OVA the wizard's last step asks for, built here and served on loopback.
[ -s var/appliance/vio-appliance.ova ] || scripts/build-ova.sh var/appliance/vio-appliance.ova > var/log/ova.log
$PY -m http.server --bind "${OVA_LISTEN%:*}" --directory var/appliance "${OVA_LISTEN##*:}" > var/log/ova-http.log 2>&1 &
pids+=($!)
$PY -m gunicorn vio_manager.wsgi --bind "$WEB" --workers 2 --access-logfile - > var/log/web.log 2>&1 &
pids+=($!)

$PY manage.py ping_worker --timeout 60 || { echo "See var/log/worker.log" >&2; exit 1; }
$PY - "$WEB" <<'PYCHECK'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://{sys.argv[1]}/login/", timeout=2); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("The web server did not answer: see var/log/web.log")
PYCHECK

$PY - "$DEMO_PASSWORD" <<'PYINFO'
import json, sys
vc, nsx = json.load(open("var/vcsim/ready.json")), json.load(open("var/nsxv/ready.json"))
print(f"""
  vCenter simulator   {vc['host']} port {vc['port']}
    user / password   {vc['username']} / {sys.argv[1]}
    SHA-256           {vc['fingerprint_sha256']}
  NSX-v emulator      {nsx['host']} port {nsx['port']} (NSX {nsx['version']})
    user / password   {nsx['username']} / {sys.argv[1]}
    SHA-256           {nsx['fingerprint_sha256']}""")
PYINFO
cat <<INFO

  VIO Manager         http://$WEB/
$admin_lines
  Appliance OVA       http://$OVA_LISTEN/vio-appliance.ova  (for the wizard's last step)
  Logs                var/log/ (web, worker, watcher, vcsim, nsxv)

Start at vCenters -> Add vCenter with the simulator's address above.

Press Ctrl-C to stop.
INFO
wait -n "${pids[@]}" || true
echo "A demo process exited; see var/log/." >&2
