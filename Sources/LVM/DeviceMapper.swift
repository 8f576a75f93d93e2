import CLVM
import FlexLVMCore

/// What the kernel's device-mapper says of one device (DM_DEVICE_INFO).
public struct DeviceInfo: Sendable, Equatable {
    public let name: String
    public let uuid: String
    public let major: UInt32
    public let minor: UInt32
    /// How many holders have the device open (mounts, processes, stacked devices).
    public let openCount: Int32
    public let suspended: Bool
    public let hasLiveTable: Bool
    public let readOnly: Bool
}

/// Queries of the kernel's device-mapper through libdevmapper, one ioctl each: no LVM
/// metadata is read. This is the hot path for volumes that are already active.
public enum DeviceMapper {
    /// The device named `name` (for an LV, ``LogicalVolumeRef/deviceMapperName``), or nil
    /// when there is none.
    public static func info(name: String) throws -> DeviceInfo? {
        try query(name, byUUID: false)
    }

    /// The device whose DM UUID is `uuid` (for an LV, `LVM-<vg uuid><lv uuid>`), or nil.
    public static func info(uuid: String) throws -> DeviceInfo? {
        try query(uuid, byUUID: true)
    }

    /// The device-mapper device with this device number, or nil (also for non-DM devices).
    public static func info(_ number: DeviceNumber) throws -> DeviceInfo? {
        try query("\(number)", byUUID: false, number: number)
    }

    private static func query(_ key: String, byUUID: Bool, number: DeviceNumber? = nil) throws -> DeviceInfo? {
        var device = flexlvm_dm_device()
        let (status, messages) = LibraryMessages.shared.capturing {
            if let number { return flexlvm_dm_info_devnum(number.major, number.minor, &device) }
            return flexlvm_dm_info(key, byUUID ? 1 : 0, &device)
        }
        guard status == 0 else {
            let detail = messages.filter(\.isError).map(\.text).joined(separator: "; ")
            throw FlexLVMError(
                .deviceMapper,
                "DM_DEVICE_INFO for \(byUUID ? "uuid" : number == nil ? "device" : "device number") \(key) failed"
                    + (detail.isEmpty ? "" : " (\(detail))")
                    + (status == -Errno.noDevice.rawValue || status == -Errno.noSuchFile.rawValue
                        ? "; is the kernel's device-mapper (dm-mod) loaded?" : ""),
                cause: Errno(-status))
        }
        guard device.exists != 0 else { return nil }
        return DeviceInfo(
            name: string(&device.name), uuid: string(&device.uuid), major: device.major, minor: device.minor,
            openCount: device.open_count, suspended: device.suspended != 0, hasLiveTable: device.live_table != 0,
            readOnly: device.read_only != 0)
    }

    /// The kernel driver's version, e.g. "4.47.0"; fails where there is no device-mapper.
    public static func driverVersion() throws -> String {
        try version("dm_driver_version", flexlvm_dm_driver_version)
    }

    /// libdevmapper's version, e.g. "1.02.185 (2022-05-18)".
    public static func libraryVersion() throws -> String {
        try version("dm_get_library_version", flexlvm_dm_library_version)
    }

    private static func version(
        _ call: String, _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        let (status, _) = LibraryMessages.shared.capturing { body(&buffer, buffer.count) }
        guard status == 0 else { throw FlexLVMError(.deviceMapper, call, cause: Errno(-status)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func string<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
