import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

/// mount and unmount: the volume's filesystem bound into each pod's volume dir.
///
/// kubelet freezes the capabilities of the last `init` it ran, so the driver never decides
/// from its settings what `mount` does: when kubelet's global dir of the volume holds this
/// LV's mount (mountdevice ran: attach:true), that mount is bound; when it holds nothing
/// (attach:false, where kubelet never calls mountdevice), the driver stages the LV itself
/// (``mountDirect(podDir:kubelet:podVolume:ref:_:)``). `unmount` undoes either.
extension NodeDriver {
    /// mount: bind the volume's mount into the pod dir.
    func mount(podDir: String, _ options: VolumeOptions) throws -> Reply {
        let (kubelet, podVolume) = try locate(podDir: podDir)
        let ref = try volume(options)
        let global = kubelet.globalMountPath(podVolume.volumeName)
        guard try MountTable.current().mount(at: global) != nil else {
            return try mountDirect(podDir: podDir, kubelet: kubelet, podVolume: podVolume, ref: ref, options)
        }
        let lock = try lockVolume(ref)
        defer { lock.release() }
        guard let device = try DeviceMapper.info(name: ref.deviceMapperName), device.hasLiveTable else {
            throw FlexLVMError(
                .notFound,
                "\(global) is mounted, but LV \(ref) is not active on this node: it is not the LV mounted there")
        }
        let number = DeviceNumber(major: device.major, minor: device.minor)
        let table = try MountTable.current()
        guard let globalMount = table.mount(at: global), globalMount.backingDevice == number else {
            throw FlexLVMError(
                .busy,
                "\(global) is not a mount of LV \(ref) (\(number)); refusing to bind it into the pod, which would get "
                    + "another filesystem")
        }
        try checkWritable(ref, source: globalMount, readOnly: options.readOnly)
        try bindIntoPod(global, at: podDir, number: number, readOnly: options.readOnly, table: table)
        return .success()
    }

    /// A read-write pod cannot use a volume that is itself read-only (its LV's LVM permission,
    /// or `ro` in the PV's mountOptions): its shared mount is read-only for every pod.
    func checkWritable(_ ref: LogicalVolumeRef, source: MountEntry, readOnly: Bool) throws {
        guard readOnly || !source.isReadOnly else {
            throw FlexLVMError(
                .invalidArgument,
                "LV \(ref) can only be mounted read-only on this node (its LVM permission is read-only, or the PV's "
                    + "mountOptions say ro); a read-write pod cannot use it")
        }
    }

    /// Binds `source` (a mount of the LV with device `number`) into `podDir`, read-only when
    /// the pod asks. The bind keeps the propagation of its source, as kubelet's own bind does:
    /// under a shared kubelet dir it is shared, so container runtimes accept
    /// `mountPropagation` and an unmount reaches every peer (a containerized kubelet's host).
    /// A pod dir that already has this LV bound is brought to the same state; one with
    /// anything else is refused.
    func bindIntoPod(_ source: String, at podDir: String, number: DeviceNumber, readOnly: Bool, table: MountTable)
        throws
    {
        if let existing = table.mount(at: podDir) {
            guard existing.backingDevice == number else {
                throw FlexLVMError(
                    .busy,
                    "\(podDir) already has another filesystem mounted (\(existing.source), device \(existing.device))")
            }
            if readOnly && !existing.isReadOnly { try MountCalls.remountReadOnly(bind: podDir) }
            return
        }
        try Files.makeDirectories(podDir, mode: 0o750)
        checkpoint("mount-before-bind")
        try MountCalls.bind(source, at: podDir, readOnly: readOnly)
    }

    /// unmount: unbind the pod dir and remove it, then release every staged LV that no mount
    /// uses any more and every idle recorded LV (this one, and any an earlier crash left).
    /// Those releases are best-effort: one that fails is logged (and retried by the next
    /// unmount and by `reconcile`), never this pod's failure.
    func unmount(podDir: String) throws -> Reply {
        _ = try locate(podDir: podDir, releasing: true)
        if Files.exists(podDir) {
            try unmountAll(podDir)
            try removeDirectory(podDir)
        }
        checkpoint("unmount-direct-unbound")
        var failures = releaseUnusedStagedVolumes()
        do {
            failures += try releaseIdleRecordedVolumes().failures
        } catch {
            failures.append("\(error)")
        }
        if !failures.isEmpty {
            log?.record("warning", "release-failed", [("failures", failures.joined(separator: "; "))])
        }
        return .success()
    }
}
