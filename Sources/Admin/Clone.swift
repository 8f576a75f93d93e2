import ArgumentParser
import DeviceMapperQueries
import Filesystems
import FlexLVMCore
import FlexVolume
import LVM

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm clone`: a new, independent, writable volume from an LV or a snapshot.
struct Clone: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new, writable volume from an LV or a snapshot, with a new filesystem UUID.",
        discussion: """
            A thin source gives a thin snapshot with LVM's activation-skip flag cleared (instant, space \
            shared until written). A thick LV or a COW snapshot gives a new LV of the source's size and \
            a block copy done in this process; a thick LV must not be in use during the copy (clone a \
            snapshot of it instead). The clone's filesystem gets a new UUID with its own tool (ext4: \
            e2fsck -fp then tune2fs -U random; xfs: xfs_db's uuid generate; btrfs: btrfstune -m), so it \
            mounts beside its origin. It is tagged and recorded like 'provision' does, and its \
            PersistentVolume is printed.

            Example: flexlvm clone --vg kube_vg --from vol1-snap --name vol1-copy | kubectl apply -f -
            """)

    @Option(help: "The volume group.") var vg: String
    @Option(help: "The LV or snapshot to copy.") var from: String
    @Option(help: "The new LV's name.") var name: String
    @OptionGroup var nodeOptions: NodeOptions
    @Option(help: "The PersistentVolume's name (default: <node>-<vg>-<lv>).") var pvName: String?
    @Option(help: "The PersistentVolume's storage class.") var storageClass: String = "flexlvm"
    @Option(help: "An access mode (repeatable): ReadWriteOnce, ReadOnlyMany, ReadWriteOncePod.")
    var accessMode: [String] = ["ReadWriteOnce"]

    /// How long a filesystem tool may take.
    static let toolTimeout = 600.0

    func run() throws {
        try admin {
            let configuration = try nodeOptions.configuration()
            let source = try LogicalVolumeRef(volumeGroup: vg, name: from)
            let target = try LogicalVolumeRef(volumeGroup: vg, name: name)
            let node = NodeIdentity.localNodeName(configuration)
            var manifest = PersistentVolumeManifest(
                name: pvName ?? PersistentVolumeManifest.defaultName(node: node, volumeGroup: vg, volume: name),
                node: node, volumeGroup: vg, volume: name, capacityBytes: 1, fsType: "ext4",
                storageClass: storageClass, accessModes: accessMode)
            try manifest.validate()
            LibraryMessages.install(log: DriverLog(path: configuration.logFile))
            let lvm = try LVM()
            let info = try lvm.usage(of: source)
            if (try? lvm.logicalVolume(target)) != nil { throw FlexLVMError(.busy, "LV \(target) already exists") }
            guard info.isThin || info.isCopyOnWriteSnapshot || info.volumeType == "-" || info.volumeType == "o" else {
                throw FlexLVMError(.unsupported, "LV \(source) (lv_attr \(info.attributes)) cannot be cloned")
            }
            guard !info.isInvalid else {
                throw FlexLVMError(.unsupported, "snapshot \(source) is invalid (its COW store overflowed)")
            }
            let tags = [LVM.managedTag, LVM.persistentVolumeTagPrefix + manifest.name]
            let lock = try FileLock(path: configuration.lockPath(target))
            defer { lock.release() }
            if info.isThin {
                try withResumeWatchdog(volumeGroupUUID: info.vgUUID) {
                    try lvm.createThinClone(of: source, name: name, tags: tags)
                }
            } else {
                try copyThick(lvm, info, to: target, tags: tags)
            }
            do {
                manifest.fsType = try renewFilesystemUUID(lvm, target)
                manifest.capacityBytes = try lvm.logicalVolume(target).sizeBytes
            } catch {
                try? lvm.deactivate(target)
                try? lvm.remove(target)
                throw error
            }
            try VolumeMap(stateDir: configuration.stateDir).record(manifest.name, target)
            print(manifest.yaml, terminator: "")
        }
    }

    /// A new thick LV of the source's size with the source's blocks, read and written here.
    func copyThick(_ lvm: LVM, _ info: LogicalVolumeUsage, to target: LogicalVolumeRef, tags: [String]) throws {
        let source = info.ref
        let originRef = info.isCopyOnWriteSnapshot ? try LogicalVolumeRef(volumeGroup: vg, name: info.origin) : source
        let wasActive = try DeviceMapper.info(name: originRef.deviceMapperName)?.hasLiveTable ?? false
        if !info.isCopyOnWriteSnapshot, let device = try DeviceMapper.info(name: source.deviceMapperName),
            device.openCount > 0
        {
            throw FlexLVMError(
                .busy,
                "LV \(source) is in use (open count \(device.openCount)), so its blocks could change during the "
                    + "copy; take a snapshot ('flexlvm snapshot create') and clone the snapshot")
        }
        // A COW snapshot's lv_size is its COW store; its data is as large as its origin.
        let bytes = info.isCopyOnWriteSnapshot ? try lvm.usage(of: originRef).sizeBytes : info.sizeBytes
        try lvm.createVolume(target, sizeBytes: bytes, thinPool: nil, tags: tags)
        do {
            // A COW snapshot is activated with its origin (LVM changes both together).
            try lvm.activate(originRef)
            defer { if !wasActive { try? lvm.deactivate(originRef) } }
            try lvm.activate(target)
            defer { try? lvm.deactivate(target) }
            try waitForNode(source)
            try waitForNode(target)
            try BlockCopy.copy(from: source.devicePath, to: target.devicePath, bytes: bytes)
        } catch {
            try? lvm.remove(target)
            throw error
        }
    }

    /// Gives the clone's filesystem a new UUID; returns its type (ext4 for a blank clone).
    func renewFilesystemUUID(_ lvm: LVM, _ target: LogicalVolumeRef) throws -> String {
        try lvm.activate(target)
        defer { try? lvm.deactivate(target) }
        try waitForNode(target)
        guard let signature = try BlockProbe.probe(target.devicePath) else { return "ext4" }
        guard let filesystem = Filesystem(rawValue: signature.type) else {
            throw FlexLVMError(
                .unsupported, "the clone holds \(signature), which flexlvm does not serve; it was removed")
        }
        if filesystem == .xfs { try replayLog(target) }
        for (arguments, success) in filesystem.newUUIDCommands(device: target.devicePath) {
            LibraryMessages.shared.note("fs-command", arguments.joined(separator: " "))
            let result = try Subprocess.run(arguments, timeout: Self.toolTimeout)
            guard !result.timedOut, success.contains(result.status), !result.standardError.contains("ERROR") else {
                throw FlexLVMError(
                    .system,
                    "\(arguments.joined(separator: " ")) \(result.timedOut ? "timed out" : "exited \(result.status)"): "
                        + (result.standardError + result.standardOutput).trimmingSpaces)
            }
        }
        return filesystem.rawValue
    }

    /// A snapshot of a mounted xfs (even frozen) has a log to replay before xfs_db may change
    /// its UUID: the kernel replays it when it mounts the clone once, privately (`nouuid`, since
    /// the origin with the same UUID may be mounted).
    func replayLog(_ target: LogicalVolumeRef) throws {
        let directory = "/run/flexlvm-clone-\(getpid())"
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw FlexLVMError(.system, "mkdir \(directory)", cause: Errno.current)
        }
        defer { rmdir(directory) }
        guard mount(target.devicePath, directory, "xfs", 0, "nouuid") == 0 else {
            throw FlexLVMError(
                .system, "mounting the xfs clone \(target) once to replay its log failed", cause: Errno.current)
        }
        guard umount2(directory, 0) == 0 else {
            throw FlexLVMError(.system, "unmounting \(directory)", cause: Errno.current)
        }
    }

    func waitForNode(_ ref: LogicalVolumeRef) throws {
        for _ in 0..<500 {
            if Files.exists(ref.devicePath) { return }
            usleep(20_000)
        }
        throw FlexLVMError(.timeout, "\(ref.devicePath) did not appear within 10 s")
    }
}

/// Block copy between devices, in this process.
enum BlockCopy {
    static let chunk = 4 << 20

    static func copy(from source: String, to target: String, bytes: UInt64) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FlexLVMError(.system, "open \(source)", cause: Errno.current) }
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CLOEXEC)
        guard output >= 0 else { throw FlexLVMError(.system, "open \(target)", cause: Errno.current) }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: chunk)
        var offset: UInt64 = 0
        while offset < bytes {
            let want = Int(min(UInt64(chunk), bytes - offset))
            let got = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, want, off_t(offset)) }
            guard got > 0 else {
                throw FlexLVMError(.system, "read \(source) at \(offset)", cause: got < 0 ? Errno.current : nil)
            }
            var written = 0
            while written < got {
                let count = buffer.withUnsafeBytes {
                    pwrite(output, $0.baseAddress! + written, got - written, off_t(offset) + off_t(written))
                }
                guard count > 0 else {
                    throw FlexLVMError(.system, "write \(target) at \(offset)", cause: Errno.current)
                }
                written += count
            }
            offset += UInt64(got)
        }
        guard fsync(output) == 0 else { throw FlexLVMError(.system, "fsync \(target)", cause: Errno.current) }
    }
}
