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

    /// The argv of a read-only consistency check of an unmounted filesystem.
    public func checkArguments(device: String) -> [String] {
        switch self {
        case .ext4: return ["e2fsck", "-n", "-f", device]
        case .xfs: return ["xfs_repair", "-n", device]
        case .btrfs: return ["btrfs", "check", "--readonly", device]
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

    /// mkfs flags a PV may add: flag → whether it takes a value. Nothing that names another
    /// device, a log or realtime device, a source dir or a proto file, and no force flag.
    public var allowedMkfsFlags: [String: Bool] {
        switch self {
        case .ext4:
            return [
                "-b": true, "-C": true, "-E": true, "-g": true, "-G": true, "-i": true, "-I": true, "-L": true,
                "-m": true,
                "-N": true, "-O": true, "-T": true, "-U": true, "-e": true, "-r": true, "-j": false, "-q": false,
            ]
        case .xfs:
            return [
                "-b": true, "-d": true, "-i": true, "-l": true, "-L": true, "-m": true, "-n": true, "-s": true,
                "-q": false,
                "-K": false,
            ]
        case .btrfs:
            return [
                "-L": true, "-n": true, "-s": true, "-O": true, "-R": true, "-d": true, "-m": true, "-U": true,
                "--csum": true, "-M": false, "-q": false, "-K": false,
            ]
        }
    }

    /// Splits and checks the PV's `mkfsOptions` against ``allowedMkfsFlags``: each flag is
    /// allowed for this filesystem, and values use `[A-Za-z0-9=,._:+-]` (no '/', so no
    /// paths).
    public func mkfsExtraArguments(_ text: String?) throws -> [String] {
        guard let text, !text.trimmingSpaces.isEmpty else { return [] }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var index = 0
        while index < words.count {
            let flag = words[index]
            if ["-f", "-F", "--force", "-FF"].contains(flag)
                || (flag.hasPrefix("-") && !flag.hasPrefix("--")
                    && flag.dropFirst().allSatisfy({ $0.isASCII && $0.isLetter })
                    && flag.contains(where: { $0 == "f" || $0 == "F" }) && allowedMkfsFlags[flag] == nil)
            {
                throw FlexLVMError(
                    .invalidArgument,
                    "mkfsOptions must not contain \(quoted(flag)): this driver never formats over existing data")
            }
            guard let takesValue = allowedMkfsFlags[flag] else {
                throw FlexLVMError(
                    .invalidArgument,
                    "mkfsOptions flag \(quoted(flag)) is not allowed for \(rawValue) (allowed: \(allowedMkfsFlags.keys.sorted().joined(separator: " ")))"
                )
            }
            index += 1
            guard takesValue else { continue }
            guard index < words.count else {
                throw FlexLVMError(.invalidArgument, "mkfsOptions flag \(flag) needs a value")
            }
            let value = words[index]
            guard !value.hasPrefix("-"), value.utf8.count <= 128,
                value.utf8.allSatisfy({ $0.isASCIIAlphanumeric || "=,._:+-".utf8.contains($0) })
            else {
                throw FlexLVMError(
                    .invalidArgument,
                    "mkfsOptions value \(quoted(value)) of \(flag) has characters that are not allowed (no paths)")
            }
            index += 1
        }
        return words
    }
}

extension Filesystem {
    /// The commands that give an unmounted filesystem a new UUID with its own tools, in order,
    /// each with the exit statuses that mean success: ext4 is checked (`e2fsck -fp`, which
    /// tune2fs requires) and then relabelled; xfs through xfs_db (what xfs_admin runs); btrfs
    /// by a new metadata UUID (fast: no metadata rewrite).
    public func newUUIDCommands(device: String) -> [(arguments: [String], success: Set<Int32>)] {
        switch self {
        case .ext4:
            return [(["e2fsck", "-f", "-p", device], [0, 1]), (["tune2fs", "-U", "random", device], [0])]
        case .xfs: return [(["xfs_db", "-x", "-c", "uuid generate", device], [0])]
        case .btrfs: return [(["btrfstune", "-m", device], [0])]
        }
    }
}
