import FlexLVMCore

/// The filesystems the driver creates and mounts, with the commands that make and grow
/// them. Commands run with an argv (never a shell), bounded in time.
public enum Filesystem: String, Sendable, CaseIterable {
    case ext4, xfs, btrfs

    /// The filesystem a PV asks for in `kubernetes.io/fsType`; empty means ext4.
    public init(fsTypeOption value: String) throws {
        guard let type = Filesystem(rawValue: value.isEmpty ? "ext4" : value) else {
            throw FlexLVMError(
                .unsupported,
                "fsType \(quoted(value)) is not supported; use one of \(Filesystem.allCases.map(\.rawValue).joined(separator: ", ")) (empty means ext4)"
            )
        }
        self = type
    }

    /// The mkfs argv for `device`, with fast-creation defaults (no discard of the whole
    /// device, lazy inode-table init) and the PV's extra flags before the device.
    /// Without `force` mkfs refuses a device holding a signature by itself too; `force` is
    /// only for redoing the driver's own unfinished mkfs.
    public func mkfsArguments(device: String, extra: [String], force: Bool = false) -> [String] {
        switch self {
        case .ext4:
            return ["mkfs.ext4", "-q"] + (force ? ["-F"] : []) + [
                "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
            ]
                + extra + [device]
        case .xfs:
            return ["mkfs.xfs", "-q", "-K"] + (force ? ["-f"] : []) + extra + [device]
        case .btrfs:
            return ["mkfs.btrfs", "-q", "-K"] + (force ? ["-f"] : []) + extra + [device]
        }
    }

    /// The argv that grows the mounted filesystem to its device's size, online.
    public func growArguments(device: String, mountPath: String) -> [String] {
        switch self {
        case .ext4: return ["resize2fs", device]
        case .xfs: return ["xfs_growfs", mountPath]
        case .btrfs: return ["btrfs", "filesystem", "resize", "max", mountPath]
        }
    }

    /// Splits and checks the PV's `mkfsOptions`: words of `[A-Za-z0-9=,._:+/-]`, and no
    /// flag that forces mkfs over an existing signature.
    public static func mkfsExtraArguments(_ text: String?) throws -> [String] {
        guard let text, !text.trimmingSpaces.isEmpty else { return [] }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        for word in words {
            guard word.utf8.count <= 128,
                word.utf8.allSatisfy({ byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                        || "=,._:+/-".utf8.contains(byte)
                })
            else {
                throw FlexLVMError(
                    .invalidArgument, "mkfsOptions word \(quoted(word)) has characters that are not allowed")
            }
            guard !["-f", "-F", "--force", "-FF"].contains(word) else {
                throw FlexLVMError(
                    .invalidArgument,
                    "mkfsOptions must not contain \(word): this driver never formats over existing data")
            }
        }
        return words
    }
}
