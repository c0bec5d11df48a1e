#!/usr/bin/env bash
# Build the VIO Manager appliance OVA: scripts/build-ova.sh OUT.ova
#
# One VM (Ubuntu 64-bit guest, 2 vCPU, 4 GB, one VMXNET3 NIC on "VM Network", one disk on an
# LSI Logic SCSI controller). The disk is a small streamOptimized VMDK made by qemu-img from a
# deterministic placeholder image; the OVA is a ustar archive holding, in this order, the OVF
# descriptor, the manifest (SHA256 lines) and the disk, as the OVF specification requires.
# The same inputs give the same bytes (fixed content, VMDK CID, tar times and owners), so the
# OVA's SHA-256 identifies the appliance build: vCenter skips an import it already has.
#
# Knobs: OVA_NAME (base name inside the archive, default vio-appliance),
#        OVA_DISK_MB (virtual disk size, default 64), OVA_DATA_KB (non-zero data, default 2048).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT.ova" >&2
  exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
name=${OVA_NAME:-vio-appliance}
disk_mb=${OVA_DISK_MB:-64}
data_kb=${OVA_DATA_KB:-2048}
if [ $((data_kb / 1024)) -ge "$disk_mb" ]; then
  echo "OVA_DATA_KB ($data_kb) must be smaller than OVA_DISK_MB ($disk_mb MiB)" >&2
  exit 2
fi

command -v qemu-img >/dev/null || "$here/system-deps.sh" qemu-utils
command -v openssl >/dev/null || "$here/system-deps.sh" openssl

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ovf=$name.ovf
mf=$name.mf
vmdk=$name-disk1.vmdk

# --- the disk: a sparse raw image whose first OVA_DATA_KB hold fixed pseudo-random bytes -------
raw=$work/disk.raw
truncate -s "${disk_mb}M" "$raw"
{
  printf 'VIO Manager appliance placeholder disk\n'
  # AES-CTR over zeros with a fixed key: incompressible (so the upload streams real bytes) and the
  # same on every build.
  head -c "$((data_kb * 1024))" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K 00112233445566778899aabbccddeeff -iv 0 2>/dev/null
} | dd of="$raw" bs=64K conv=notrunc status=none
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$raw" "$work/$vmdk"
# qemu-img writes a random content ID (printed with %x: 1 to 8 digits) into the embedded
# descriptor, and a shorter ID leaves a stray byte in the descriptor area's padding. Rewrite the
# area (its place and size are in the sparse header: descriptorOffset and descriptorSize, in
# sectors, at bytes 28 and 36) as the same text with a fixed CID, padded with NULs: the file keeps
# its layout and every build gives the same bytes. The parent CID stays ffffffff (no parent).
# (perl is essential on Debian.)
perl -0777 -pi -e 'BEGIN { binmode STDIN; binmode STDOUT }
  substr($_, 0, 4) eq "KDMV" or die "not a sparse VMDK\n";
  my ($offset, $size) = map { $_ * 512 } unpack("Q<Q<", substr($_, 28, 16));
  my $area = substr($_, $offset, $size);
  (my $text = $area) =~ s/\0.*//s;
  $text =~ s/^CID=[0-9a-f]{1,8}$/CID=5a1ad15c/m or die "no CID line in the VMDK descriptor\n";
  substr($_, $offset, $size) = $text . ("\0" x ($size - length $text));' "$work/$vmdk"

vmdk_size=$(stat -c %s "$work/$vmdk")
capacity=$(qemu-img info --output=json "$work/$vmdk" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p' | head -1)
[ -n "$capacity" ] || { echo "qemu-img info gave no virtual size" >&2; exit 1; }

# --- the OVF descriptor ----------------------------------------------------------------------------
cat >"$work/$ovf" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="vio-manager" xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vmw="http://www.vmware.com/schema/ovf"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="$vmdk" ovf:id="file1" ovf:size="$vmdk_size"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="$capacity" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1"
        ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The management network of the VIO appliance</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="$name">
    <Info>VIO Manager appliance</Info>
    <Name>$name</Name>
    <OperatingSystemSection ovf:id="94" vmw:osType="ubuntu64Guest">
      <Info>The kind of installed guest operating system</Info>
      <Description>Ubuntu Linux (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$name</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>4096MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>4096</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VmxNet3 ethernet adapter on "VM Network"</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
EOF

# --- the manifest: one "SHA256(file)= hex" line per file ------------------------------------------
(cd "$work" && sha256sum "$ovf" "$vmdk" | sed -E 's/^([0-9a-f]{64})  (.*)$/SHA256(\2)= \1/') >"$work/$mf"

# --- the archive: ustar, descriptor first, fixed times and owners ---------------------------------
mkdir -p "$(dirname "$out")"
tar --format=ustar --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=0644 \
  -C "$work" -cf "$out.tmp" "$ovf" "$mf" "$vmdk"
mv "$out.tmp" "$out"
echo "built $out ($(stat -c %s "$out") bytes; disk $vmdk_size bytes, capacity $capacity bytes)"
