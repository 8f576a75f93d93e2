import CDeviceMapper
import FlexLVMCore
import FlexVolume

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

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

    /// Whether this process can reach the kernel's device-mapper: the kernel has the driver
    /// (`/proc/misc` lists `device-mapper`) and `/dev/mapper/control` is that character
    /// device. False on a controller host and in KCM's image, where the controller-side
    /// answers apply; checked before any query there, so libdevmapper never creates a
    /// control node of its own.
    public static func isAvailable() -> Bool {
        guard let misc = try? Files.read("/proc/misc", limit: 64 << 10),
            let minor = String(decoding: misc, as: UTF8.self).split(separator: "\n").lazy.compactMap({ line in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                return fields.count == 2 && fields[1] == "device-mapper" ? UInt32(fields[0]) : nil
            }).first,
            let control = try? Files.status("/dev/mapper/control"), control.st_mode & S_IFMT == S_IFCHR
        else { return false }
        return DeviceNumber(UInt64(control.st_rdev)) == DeviceNumber(major: miscMajor, minor: minor)
    }

    /// The major number of misc character devices (Documentation/admin-guide/devices.txt).
    static let miscMajor: UInt32 = 10

    /// The device of `ref` when the kernel has it active as a plain LV: an LVM DM UUID
    /// (`LVM-` and 64 characters) and a live table. Nil when there is no device, no live
    /// table yet, or a layered LVM device under that name (a thin pool's `-tpool`, say), whose
    /// nature only LVM's metadata can tell. Throws when a device that is not an LVM LV holds
    /// the name. One DM_DEVICE_INFO ioctl; no LVM metadata is read.
    public static func activeLogicalVolume(_ ref: LogicalVolumeRef) throws -> DeviceInfo? {
        guard let device = try info(name: ref.deviceMapperName) else { return nil }
        if device.uuid.hasPrefix("LVM-") && device.uuid.utf8.count > 68 { return nil }
        guard device.uuid.hasPrefix("LVM-") && device.uuid.utf8.count == 68 else {
            throw FlexLVMError(
                .busy,
                "a device-mapper device named \(ref.deviceMapperName) exists but is not LV \(ref) "
                    + "(DM UUID \(quoted(device.uuid)))")
        }
        return device.hasLiveTable ? device : nil
    }

    /// Whether the LV's device node (`/dev/mapper/<name>`) is a block device with the DM
    /// device's number, i.e. usable by path now.
    public static func nodeMatches(_ ref: LogicalVolumeRef, _ device: DeviceInfo) throws -> Bool {
        try DeviceNumber.ofBlockDevice(ref.devicePath) == DeviceNumber(major: device.major, minor: device.minor)
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

extension DeviceMapper {
    /// Starts a watchdog child that resumes the suspended devices whose DM UUID starts with
    /// `uuidPrefix` if this process dies; returns the descriptor to write one byte to (then
    /// close) when the work is done.
    public static func startResumeWatchdog(uuidPrefix: String) throws -> Int32 {
        let fd = flexlvm_dm_resume_watchdog(uuidPrefix)
        guard fd >= 0 else { throw FlexLVMError(.system, "cannot start the resume watchdog", cause: Errno(-fd)) }
        return fd
    }

    /// Suspends a device (flush, filesystem frozen); for tests.
    public static func suspend(name: String) -> Int32 { flexlvm_dm_suspend(name) }

    /// Resumes a device.
    public static func resume(name: String) -> Int32 { flexlvm_dm_resume(name) }
}
