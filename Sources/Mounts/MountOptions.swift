import FlexLVMCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Mount flags and filesystem data options, parsed from a PV's `mountOptions` and checked
/// against a table of what this driver allows. Options that would change what is mounted
/// or where (bind, remount, move, subvol, context) are refused.
public struct MountOptions: Sendable, Equatable {
    public var flags: UInt = 0
    /// Filesystem-specific options, comma-separated, passed as mount(2)'s data.
    public var data: String = ""

    public init() {}

    /// The generic flags, as mount(8) spells them: name → (set or clear, flag).
    public static let flagTable: [String: (set: Bool, flag: UInt)] = [
        "ro": (true, UInt(MS_RDONLY)), "rw": (false, UInt(MS_RDONLY)),
        "nosuid": (true, UInt(MS_NOSUID)), "suid": (false, UInt(MS_NOSUID)),
        "nodev": (true, UInt(MS_NODEV)), "dev": (false, UInt(MS_NODEV)),
        "noexec": (true, UInt(MS_NOEXEC)), "exec": (false, UInt(MS_NOEXEC)),
        "noatime": (true, UInt(MS_NOATIME)), "atime": (false, UInt(MS_NOATIME)),
        "nodiratime": (true, UInt(MS_NODIRATIME)), "diratime": (false, UInt(MS_NODIRATIME)),
        "relatime": (true, UInt(MS_RELATIME)), "norelatime": (false, UInt(MS_RELATIME)),
        "strictatime": (true, UInt(MS_STRICTATIME)), "lazytime": (true, UInt(MS_LAZYTIME)),
        "sync": (true, UInt(MS_SYNCHRONOUS)), "async": (false, UInt(MS_SYNCHRONOUS)),
        "dirsync": (true, UInt(MS_DIRSYNC)),
    ]

    /// Data options each filesystem accepts here (a `key` or `key=value`).
    public static let dataOptions: [String: Set<String>] = [
        "ext4": [
            "discard", "nodiscard", "data", "commit", "errors", "barrier", "nobarrier", "journal_checksum",
            "noauto_da_alloc", "auto_da_alloc", "delalloc", "nodelalloc", "dioread_nolock", "dioread_lock",
            "init_itable", "noinit_itable", "stripe", "user_xattr", "acl", "noacl", "quota", "usrquota", "grpquota",
            "prjquota", "max_batch_time", "min_batch_time", "inode_readahead_blks", "i_version", "nombcache",
        ],
        "xfs": [
            "discard", "nodiscard", "allocsize", "attr2", "noattr2", "inode32", "inode64", "largeio", "nolargeio",
            "logbufs", "logbsize", "noalign", "norecovery", "nouuid", "noquota", "uquota", "usrquota", "uqnoenforce",
            "gquota", "grpquota", "gqnoenforce", "pquota", "prjquota", "pqnoenforce", "swalloc", "sunit", "swidth",
            "wsync", "filestreams",
        ],
        "btrfs": [
            "discard", "nodiscard", "compress", "compress-force", "autodefrag", "noautodefrag", "space_cache",
            "nospace_cache", "ssd", "nossd", "ssd_spread", "nossd_spread", "commit", "flushoncommit",
            "noflushoncommit", "datacow", "nodatacow", "datasum", "nodatasum", "max_inline", "barrier", "nobarrier",
        ],
    ]

    /// Parses `text` (comma-separated) for a filesystem of type `fsType`.
    public static func parse(_ text: String, fsType: String) throws -> MountOptions {
        var options = MountOptions()
        var data: [String] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: true) {
            let option = String(raw).trimmingSpaces
            if option.isEmpty { continue }
            if let (set, flag) = flagTable[option] {
                if set { options.flags |= flag } else { options.flags &= ~flag }
                continue
            }
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard dataOptions[fsType]?.contains(parts[0]) == true else {
                throw FlexLVMError(
                    .invalidArgument,
                    "mount option \(quoted(option)) is not allowed for \(fsType) (allowed: the generic flags "
                        + "\(flagTable.keys.sorted().joined(separator: " ")) and \(fsType)'s "
                        + "\((dataOptions[fsType] ?? []).sorted().joined(separator: " ")))")
            }
            if parts.count == 2 {
                let value = parts[1]
                guard !value.isEmpty, value.utf8.count <= 32,
                    value.utf8.allSatisfy({ $0.isASCIIAlphanumeric || ":-_.".utf8.contains($0) })
                else {
                    throw FlexLVMError(.invalidArgument, "mount option \(quoted(option)) has an invalid value")
                }
            }
            data.append(option)
        }
        options.data = data.joined(separator: ",")
        return options
    }
}
