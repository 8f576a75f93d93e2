import DeviceMapperQueries
import FlexLVMCore
import FlexVolume

/// The node's hot path, answered in the driver file without starting the node binary:
/// `isattached`, and `waitforattach` on an LV the kernel already has active with its device
/// node in place. One DM_DEVICE_INFO ioctl through (statically linked) libdevmapper and one
/// stat; no LVM metadata is read. Whatever it cannot settle that cheaply (an inactive LV, a
/// device node not there yet, a name held by another device, any error) returns nil, and the
/// node binary gives the full answer.
enum HotPath {
    static func answer(_ call: Call, _ configuration: Configuration, log: DriverLog) -> Reply? {
        switch call {
        case .isAttached(let options, _):
            do {
                let ref = try configuration.servedVolume(options)
                return Reply(.success, attached: try DeviceMapper.activeLogicalVolume(ref) != nil)
            } catch {
                return nil
            }
        case .waitForAttach(let devicePath, let options):
            do {
                let ref = try configuration.servedVolume(options)
                let lock = try FileLock(path: configuration.lockPath(ref))
                defer { lock.release() }
                guard let device = try DeviceMapper.activeLogicalVolume(ref), try DeviceMapper.nodeMatches(ref, device)
                else { return nil }
                // A snapshot is refused by the node binary, with its reason.
                guard
                    try SnapshotGuard.activeSnapshotReason(ref, device: device, stateDir: configuration.stateDir)
                        == nil
                else { return nil }
                try VolumeMap(stateDir: configuration.stateDir).remember(options, ref)
                if !devicePath.isEmpty && devicePath != ref.devicePath {
                    log.record("warning", "stale-device-path", [("given", devicePath), ("device", ref.devicePath)])
                }
                return .success(device: ref.devicePath)
            } catch {
                return nil
            }
        default:
            return nil
        }
    }
}
