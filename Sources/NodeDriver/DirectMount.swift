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

    /// mount without a global mount (attach:false): activate, format only if blank, mount
    /// on the staging dir, bind into the pod dir. Secrets may arrive here; they are neither
    /// used, logged nor stored.
    func mountDirect(
        podDir: String, kubelet: KubeletPaths, podVolume: KubeletPaths.PodVolume, ref: LogicalVolumeRef,
        _ options: VolumeOptions
    ) throws -> Reply {
        let filesystem = try Filesystem(fsTypeOption: options.fsType)
        let mountOptions = try MountOptions.parse(options.mountOptions ?? "", fsType: filesystem.rawValue)
        let mkfsExtra = try filesystem.mkfsExtraArguments(options.mkfsOptions)

        let lock = try lockVolume(ref)
        defer { lock.release() }
        let (device, activated) = try activate(ref)
        let wasStaged = try MountTable.current().mount(at: stagingPath(ref)) != nil
        do {
            try stageAndBind(
                ref, device: device, podDir: podDir, kubelet: kubelet, options, filesystem, mountOptions, mkfsExtra,
                lock)
            // Recorded only once the LV is served to a pod, for `reconcile`.
            try volumeMap.record(podVolume.volumeName, ref)
        } catch {
            // kubelet answers a failed mount by removing the pod dir, not with unmount: a
            // staged LV that no pod uses (this call's, or one a concurrent unmount skipped
            // while this call held the lock) must not stay mounted or active. An LV that was
            // active before and not staged by the driver is left active.
            try? releaseStagedIfUnused(ref, deactivate: activated || wasStaged)
            throw error
        }
        return .success()
    }

    /// Mounts the LV on its staging dir (unless it is) and binds that into the pod dir. The
    /// staging mount is read-write unless the volume itself is read-only, whatever the first
    /// pod asked: each pod's bind is read-only when its pod asks.
    private func stageAndBind(
        _ ref: LogicalVolumeRef, device: String, podDir: String, kubelet: KubeletPaths, _ options: VolumeOptions,
        _ filesystem: Filesystem, _ mountOptions: MountOptions, _ mkfsExtra: [String], _ lock: FileLock
    ) throws {
        let number = try deviceNumber(of: ref, at: device)
        let staging = stagingPath(ref)
        try mountFilesystem(
            of: ref, device: device, number: number, at: staging, kubelet: kubelet, filesystem: filesystem,
            options: mountOptions, readOnly: options.readOnly, mkfsExtra: mkfsExtra, lock: lock)
        checkpoint("mount-direct-staged")

        let table = try MountTable.current()
        guard let staged = table.mount(at: staging), staged.backingDevice == number else {
            throw FlexLVMError(.internalError, "\(staging) is not a mount of LV \(ref) after mounting it")
        }
        try checkWritable(ref, source: staged, readOnly: options.readOnly)
        try bindIntoPod(staging, at: podDir, number: number, readOnly: options.readOnly, table: table)
    }

    /// Unmounts and deactivates each staged LV whose device has no mount but its staging
    /// mount, under that LV's lock; LVs whose lock is held are skipped. Best-effort: returns
    /// what failed, so one stuck LV never stops the others' release.
    func releaseUnusedStagedVolumes() -> [String] {
        let prefix = MountTable.canonical(configuration.stagingDir) + "/"
        let staged: [MountEntry]
        do {
            staged = try MountTable.current().entries.filter { $0.mountPoint.hasPrefix(prefix) }
        } catch {
            return ["\(error)"]
        }
        var failures: [String] = []
        for entry in staged {
            guard let ref = LogicalVolumeRef(deviceMapperName: Paths.baseName(of: entry.mountPoint)) else { continue }
            do {
                guard let lock = try FileLock.tryLock(path: lockPath(ref)) else { continue }
                defer { lock.release() }
                try releaseStagedIfUnused(ref)
            } catch {
                failures.append("\(ref): \(error)")
            }
        }
        return failures
    }

    /// Unmounts the LV's staging dir when no other mount uses its device, then deactivates
    /// the LV when nothing holds it open (and `deactivate`). The caller holds the LV's lock.
    func releaseStagedIfUnused(_ ref: LogicalVolumeRef, deactivate: Bool = true) throws {
        let staging = stagingPath(ref)
        let table = try MountTable.current()
        if let staged = table.mount(at: staging) {
            let users = table.mounts(of: staged.backingDevice).filter { $0.mountPoint != staging }
            guard users.isEmpty else { return }
            try unmountAll(staging)
        }
        try removeDirectory(staging)
        if deactivate { try releaseIfUnused(ref) }
    }
}
