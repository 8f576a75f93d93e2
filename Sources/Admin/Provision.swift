import ArgumentParser
import DeviceMapperQueries
import Filesystems
import FlexLVMCore
import FlexVolume
import LVM

/// `flexlvm provision`: creates an LV in-process and prints the PersistentVolume for it.
struct Provision: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an LV on this node and print a PersistentVolume for it.",
        discussion: """
            The LV is tagged as managed by flexlvm and left inactive; the PV pins it to this node \
            with nodeAffinity, and its capacity is the LV's real size (LVM rounds up to whole extents).

            Example: flexlvm provision --vg kube_vg --name vol1 --size 10Gi --fs xfs | kubectl apply -f -
            """)

    @Option(help: "The volume group.") var vg: String
    @Option(help: "The new LV's name.") var name: String
    @Option(help: "The size, as a Kubernetes quantity: 10Gi, 500M, 1073741824.") var size: String
    @Option(help: "Create a thin LV in this thin pool of the VG.") var thinPool: String?
    @Option(help: "The filesystem the driver creates on first mount: ext4, xfs or btrfs.") var fs: String = "ext4"
    @OptionGroup var nodeOptions: NodeOptions
    @Option(help: "The PersistentVolume's name (default: <node>-<vg>-<lv>).") var pvName: String?
    @Option(help: "The PersistentVolume's storage class.") var storageClass: String = "flexlvm"
    @Option(help: "An access mode (repeatable): ReadWriteOnce, ReadOnlyMany, ReadWriteOncePod.")
    var accessMode: [String] = ["ReadWriteOnce"]
    @Flag(help: "Print the PV without creating the LV.") var dryRun = false
    @Flag(help: "Print a PV for an LV that already exists instead of refusing.") var reuse = false

    func run() throws {
        try admin {
            let configuration = try nodeOptions.configuration()
            let ref = try LogicalVolumeRef(volumeGroup: vg, name: name)
            let filesystem = try Filesystem(fsTypeOption: fs)
            let requested = try Quantity.bytes(size)
            let node = NodeIdentity.localNodeName(configuration)
            var manifest = PersistentVolumeManifest(
                name: pvName ?? PersistentVolumeManifest.defaultName(node: node, volumeGroup: vg, volume: name),
                node: node,
                volumeGroup: vg, volume: name, capacityBytes: requested, fsType: filesystem.rawValue,
                storageClass: storageClass, accessModes: accessMode)
            try manifest.validate()

            LibraryMessages.install(log: DriverLog(path: configuration.logFile))
            let lvm = try LVM()
            let existing = try? lvm.logicalVolume(ref)
            if let existing {
                guard reuse else {
                    throw FlexLVMError(
                        .busy,
                        "LV \(ref) already exists (\(existing.sizeBytes) bytes); pass --reuse to print a PV for it")
                }
                manifest.capacityBytes = existing.sizeBytes
            } else {
                let space = try? lvm.volumeGroupSpace(vg)
                guard space != nil || dryRun else {
                    throw FlexLVMError(.notFound, "volume group \(vg) not found on this node")
                }
                if space == nil {
                    try? Files.writeAll(
                        2,
                        Array(
                            "note: VG \(vg) is not on this machine; the capacity assumes LVM's default 4 MiB extents\n"
                                .utf8),
                        object: "stderr")
                }
                let extent = max(space?.extentSize ?? 4 << 20, 1)
                manifest.capacityBytes = (requested + extent - 1) / extent * extent
                if !dryRun {
                    try lvm.createVolume(
                        ref, sizeBytes: manifest.capacityBytes, thinPool: thinPool,
                        tags: [LVM.managedTag, LVM.persistentVolumeTagPrefix + manifest.name])
                    manifest.capacityBytes = try lvm.logicalVolume(ref).sizeBytes
                }
            }
            // Recorded like an attached volume, so `reconcile` releases it if LVM's boot-time
            // auto-activation leaves it active without a pod.
            if !dryRun { try VolumeMap(stateDir: configuration.stateDir).record(manifest.name, ref) }
            print(manifest.yaml, terminator: "")
        }
    }
}
