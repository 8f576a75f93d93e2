import Filesystems
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

#if canImport(Glibc)
    import Glibc
#endif

/// The attach:false mode (OpenShift, and clusters whose kube-controller-manager runs no
/// FlexVolume driver): kubelet calls only `mount` and `unmount`, so `mount` does the whole
/// node-side job and `unmount` releases the LV after its last pod.
///
/// Each LV is mounted once per node on a staging dir the driver owns
/// (`<stagingDir>/<dm name>`), then bound into every pod dir. Who still uses a volume is
/// read from the mount table (other mounts of the same device), never from a counter that
/// could drift after a crash or a reboot.
extension NodeDriver {
    func stagingPath(_ ref: LogicalVolumeRef) -> String {
        Paths.join(MountTable.canonical(configuration.stagingDir), ref.deviceMapperName)
    }

    /// mount (attach:false): activate, format only if blank, mount on the staging dir, bind
    /// into the pod dir. Secrets may arrive here; they are neither used, logged nor stored.
    func mountDirect(podDir: String, _ options: VolumeOptions) throws -> Reply {
        let podVolume = try paths.podVolume(podDir)
        let ref = try volume(options)
        let filesystem = try Filesystem(fsTypeOption: options.fsType)
        var mountOptions = try MountOptions.parse(options.mountOptions ?? "", fsType: filesystem.rawValue)
        if options.readOnly { mountOptions.flags |= UInt(MS_RDONLY) }
        let mkfsExtra = try filesystem.mkfsExtraArguments(options.mkfsOptions)

        let lock = try lockVolume(ref)
        defer { lock.release() }
        let (device, activated) = try activate(ref)
        try volumeMap.record(podVolume.volumeName, ref)
        do {
            try stageAndBind(ref, device: device, podDir: podDir, options, filesystem, mountOptions, mkfsExtra, lock)
        } catch {
            // kubelet answers a failed mount by removing the pod dir, not with unmount: an
            // LV this call activated and nothing uses must not stay active.
            if activated { try? releaseStagedIfUnused(ref) }
            throw error
        }
        return .success()
    }

    /// Mounts the LV on its staging dir (unless it is) and binds that into the pod dir.
    private func stageAndBind(
        _ ref: LogicalVolumeRef, device: String, podDir: String, _ options: VolumeOptions, _ filesystem: Filesystem,
        _ mountOptions: MountOptions, _ mkfsExtra: [String], _ lock: FileLock
    ) throws {
        let number = try deviceNumber(of: ref, at: device)
        let staging = stagingPath(ref)
        if let staged = try MountTable.current().mount(at: staging), staged.backingDevice == number,
            staged.isReadOnly && !options.readOnly
        {
            throw FlexLVMError(
                .busy, "LV \(ref) is mounted read-only on this node for another pod; a read-write pod cannot share it")
        }
        try mountFilesystem(
            of: ref, device: device, number: number, at: staging, filesystem: filesystem, options: mountOptions,
            readOnly: options.readOnly, mkfsExtra: mkfsExtra, lock: lock)
        checkpoint("mount-direct-staged")

        try bindIntoPod(
            staging, at: podDir, number: number, readOnly: options.readOnly, table: try MountTable.current())
    }

    /// unmount (attach:false): unbind the pod dir, then release every staged LV that no
    /// mount uses any more (this one, and any an earlier crash left behind).
    func unmountDirect(podDir: String) throws -> Reply {
        _ = try paths.podVolume(podDir)
        if Files.exists(podDir) {
            try unmountAll(podDir)
            try removeDirectory(podDir)
        }
        checkpoint("unmount-direct-unbound")
        try releaseUnusedStagedVolumes()
        try releaseIdleRecordedVolumes()
        return .success()
    }

    /// Unmounts and deactivates each staged LV whose device has no mount but its staging
    /// mount, under that LV's lock.
    func releaseUnusedStagedVolumes() throws {
        let prefix = MountTable.canonical(configuration.stagingDir) + "/"
        let staged = try MountTable.current().entries.filter { $0.mountPoint.hasPrefix(prefix) }
        for entry in staged {
            guard let ref = LogicalVolumeRef(deviceMapperName: Paths.baseName(of: entry.mountPoint)),
                let lock = try FileLock.tryLock(path: lockPath(ref))
            else { continue }
            defer { lock.release() }
            try releaseStagedIfUnused(ref)
        }
    }

    /// Unmounts the LV's staging dir when no other mount uses its device, then deactivates
    /// the LV when nothing holds it open. The caller holds the LV's lock.
    func releaseStagedIfUnused(_ ref: LogicalVolumeRef) throws {
        let staging = stagingPath(ref)
        let table = try MountTable.current()
        if let staged = table.mount(at: staging) {
            let users = table.mounts(of: staged.backingDevice).filter { $0.mountPoint != staging }
            guard users.isEmpty else { return }
            try unmountAll(staging)
        }
        try removeDirectory(staging)
        try releaseIfUnused(ref)
    }
}
