import CBlkid
import FlexLVMCore

#if canImport(Glibc)
    import Glibc
#endif

/// What libblkid finds on a block device, read in-process.
public enum BlockProbe {
    /// A signature found on a device.
    public struct Signature: Sendable, Equatable, CustomStringConvertible {
        /// e.g. "ext4", "xfs", "crypto_LUKS", "LVM2_member", "swap", "partition table dos".
        public let type: String
        /// "filesystem", "crypto", "raid", "other" or "partition table".
        public let usage: String

        public var description: String { usage.isEmpty || type.hasPrefix("partition") ? type : "\(type) (\(usage))" }
    }

    /// The signature on `device`, or nil when it is blank.
    public static func probe(_ device: String) throws -> Signature? {
        var type = [CChar](repeating: 0, count: 128)
        var usage = [CChar](repeating: 0, count: 64)
        let status = flexlvm_blkid_probe(device, &type, type.count, &usage, usage.count)
        switch status {
        case 0: return nil
        case 1: return Signature(type: string(type), usage: string(usage))
        case -2:
            throw FlexLVMError(
                .busy, "\(device) carries several conflicting signatures (libblkid: ambiguous); refusing to touch it")
        case -ELIBACC, -ELIBBAD:
            throw FlexLVMError(.notFound, "libblkid (libblkid.so.1) cannot be loaded; install libblkid1 (util-linux)")
        default:
            throw FlexLVMError(.system, "libblkid probe of \(device)", cause: Errno(-status))
        }
    }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
