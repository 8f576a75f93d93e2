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
        let ref = try options.logicalVolume()
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
        if let existing = table.mount(at: podDir) {
            guard existing.backingDevice == number else {
                throw FlexLVMError(
                    .busy,
                    "\(podDir) already has another filesystem mounted (\(existing.source), device \(existing.device))")
            }
            try MountCalls.makePrivate(podDir)
            if options.readOnly && !existing.isReadOnly { try MountCalls.remountReadOnly(bind: podDir) }
            return .success()
        }
        try Files.makeDirectories(podDir, mode: 0o750)
        checkpoint("mount-before-bind")
        try MountCalls.bind(global, at: podDir, readOnly: options.readOnly)
        return .success()
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
