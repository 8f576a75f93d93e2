import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM

/// attach, waitforattach, isattached and detach on the node.
extension NodeDriver {
    /// attach on the node: activate the LV and return its device.
    func attach(_ options: VolumeOptions) throws -> Reply {
        let ref = try volume(options)
        let lock = try lockVolume(ref)
        defer { lock.release() }
        let device = try ensureActive(ref)
        try remember(options, ref)
        return .success(device: device)
    }

    /// waitforattach: resolve the LV from the options (never trust the given path, which may
    /// be stale after a reboot), activate it if needed, wait for its device, return it.
    func waitForAttach(devicePath: String, _ options: VolumeOptions) throws -> Reply {
        let ref = try volume(options)
        let lock = try lockVolume(ref)
        defer { lock.release() }
        let device = try ensureActive(ref)
        if !devicePath.isEmpty && devicePath != device {
            log?.record("warning", "stale-device-path", [("given", devicePath), ("device", device)])
        }
        try remember(options, ref)
        return .success(device: device)
    }

    /// isattached on the node: the kernel's truth, from libdevmapper alone.
    func isAttached(_ options: VolumeOptions) throws -> Reply {
        let ref = try volume(options)
        let attached = try activeDevice(ref, waitForNode: false) != nil
        return Reply(.success, attached: attached)
    }

    /// detach on the node: find the LV from the PV name recorded at attach time, refuse if
    /// its device is open, deactivate it.
    func detach(_ volumeName: String) throws -> Reply {
        guard let ref = try volumeMap.lookup(volumeName) else {
            log?.record("info", "detach-unknown-volume", [("volume", volumeName)])
            return .success(message: "no LV is recorded for \(volumeName) on this node; nothing to release")
        }
        let lock = try lockVolume(ref)
        defer { lock.release() }
        guard let device = try DeviceMapper.info(name: ref.deviceMapperName) else {
            try volumeMap.remove(volumeName)
            return .success()
        }
        guard device.openCount == 0 else {
            throw FlexLVMError(
                .busy,
                "LV \(ref) (\(ref.devicePath)) is open by \(device.openCount) holder\(device.openCount == 1 ? "" : "s") "
                    + "(mounted or in use); it was not deactivated")
        }
        try LVM().deactivate(ref)
        if let still = try DeviceMapper.info(name: ref.deviceMapperName) {
            throw FlexLVMError(
                .lvm,
                "LVM reported LV \(ref) deactivated, but its device is still present (open count \(still.openCount))")
        }
        try volumeMap.remove(volumeName)
        return .success()
    }

}
