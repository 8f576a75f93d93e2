import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

/// mount and unmount: the global mount bound into each pod's volume dir.
extension NodeDriver {
    /// mount: bind the global dir into the pod dir, after checking that the global dir is a
    /// mount of this LV (binding an unmounted dir would give the pod the node's disk).
    func mount(podDir: String, _ options: VolumeOptions) throws -> Reply {
        let podVolume = try paths.podVolume(podDir)
        let ref = try volume(options)
        let global = paths.globalMountPath(podVolume.volumeName)
        let lock = try lockVolume(ref)
        defer { lock.release() }
        guard let device = try DeviceMapper.info(name: ref.deviceMapperName), device.hasLiveTable else {
            throw FlexLVMError(
                .notFound,
                "LV \(ref) is not active on this node: mountdevice has not run for it, so there is nothing to bind")
        }
        let number = DeviceNumber(major: device.major, minor: device.minor)
        let table = try MountTable.current()
        guard let globalMount = table.mount(at: global), globalMount.backingDevice == number else {
            throw FlexLVMError(
                .notFound,
                "\(global) is not a mount of LV \(ref) (\(number)); refusing to bind it into the pod, whose writes would "
                    + "land on the node's disk")
        }
        guard options.readOnly || !globalMount.isReadOnly else {
            throw FlexLVMError(
                .busy,
                "LV \(ref) is mounted read-only on this node (a read-only pod mounted it first); a read-write pod "
                    + "cannot share it until that pod is gone")
        }
        try bindIntoPod(global, at: podDir, number: number, readOnly: options.readOnly, table: table)
        return .success()
    }

    /// Binds `source` (a mount of the LV with device `number`) into `podDir`: private, and
    /// read-only when asked. A pod dir that already has this LV bound is brought to the same
    /// state; one with anything else is refused.
    func bindIntoPod(_ source: String, at podDir: String, number: DeviceNumber, readOnly: Bool, table: MountTable)
        throws
    {
        if let existing = table.mount(at: podDir) {
            guard existing.backingDevice == number else {
                throw FlexLVMError(
                    .busy,
                    "\(podDir) already has another filesystem mounted (\(existing.source), device \(existing.device))")
            }
            try MountCalls.makePrivate(podDir)
            if readOnly && !existing.isReadOnly { try MountCalls.remountReadOnly(bind: podDir) }
            return
        }
        try Files.makeDirectories(podDir, mode: 0o750)
        checkpoint("mount-before-bind")
        try MountCalls.bind(source, at: podDir, readOnly: readOnly)
    }

    /// unmount: unbind the pod dir and remove it.
    func unmount(podDir: String) throws -> Reply {
        _ = try paths.podVolume(podDir)
        guard Files.exists(podDir) else { return .success() }
        try unmountAll(podDir)
        try removeDirectory(podDir)
        return .success()
    }
}
