import ArgumentParser
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm snapshot create|list|delete`.
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take, list and delete snapshots of volumes (thin, or copy-on-write for thick LVs).",
        discussion: """
            Snapshots are tagged "\(LVM.snapshotTag)" and never served to pods; use 'flexlvm clone' for a \
            writable copy and 'flexlvm restore' to roll an origin back.

            Example: flexlvm snapshot create --vg kube_vg --lv vol1 --name vol1-before-upgrade
            """,
        subcommands: [Create.self, List.self, Delete.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Snapshot an LV, consistent at one instant even while it is mounted and written.",
            discussion: """
                A thin LV gets a thin snapshot (space from its pool; --size is refused). A thick LV gets a \
                copy-on-write snapshot whose COW store is --size, by default 20% of the origin's size \
                (at least one extent); a COW snapshot that fills up becomes invalid.

                LVM suspends the origin's device with a flush while it switches tables, and device-mapper \
                freezes the mounted filesystem for that suspend (FIFREEZE's freeze_super), so the snapshot \
                holds a clean filesystem at one instant. The freeze lasts only as long as the suspend. A \
                watchdog child resumes the VG's suspended devices (which thaws the filesystem) if this \
                process dies, even by SIGKILL, while LVM has them suspended.

                Example: flexlvm snapshot create --vg kube_vg --lv vol1 --name vol1-snap --size 2Gi
                """)

        @Option(help: "The volume group.") var vg: String
        @Option(help: "The origin LV.") var lv: String
        @Option(help: "The snapshot's name.") var name: String
        @Option(
            help: "COW store size of a thick LV's snapshot, a Kubernetes quantity (default: 20% of the origin).")
        var size: String?
        @OptionGroup var nodeOptions: NodeOptions

        func run() throws {
            try admin {
                let configuration = try nodeOptions.configuration()
                let origin = try LogicalVolumeRef(volumeGroup: vg, name: lv)
                let ref = try LogicalVolumeRef(volumeGroup: vg, name: name)
                let requested = try size.map { try Quantity.bytes($0) }
                LibraryMessages.install(log: DriverLog(path: configuration.logFile))
                let lvm = try LVM()
                let info = try lvm.usage(of: origin)
                guard !info.isSnapshot else {
                    throw FlexLVMError(.unsupported, "LV \(origin) is itself a snapshot; snapshot its origin instead")
                }
                guard info.isThin || info.volumeType == "-" || info.volumeType == "o" else {
                    throw FlexLVMError(
                        .unsupported, "LV \(origin) (lv_attr \(info.attributes)) is neither a plain nor a thin LV")
                }
                if (try? lvm.logicalVolume(ref)) != nil {
                    throw FlexLVMError(.busy, "LV \(ref) already exists")
                }
                var cowSize: UInt64?
                if info.isThin {
                    guard requested == nil else {
                        throw FlexLVMError(
                            .invalidArgument,
                            "LV \(origin) is thin: its snapshot takes space from pool \(info.pool) as it diverges; "
                                + "drop --size")
                    }
                } else {
                    let extent = max(try lvm.volumeGroupSpace(vg).extentSize, 1)
                    let bytes = requested ?? (info.sizeBytes / 5)
                    cowSize = max((bytes + extent - 1) / extent, 1) * extent
                }
                let mounted = try originMounts(origin)
                let lock = try FileLock(path: configuration.lockPath(origin))
                defer { lock.release() }
                let start = Clock.monotonicNanoseconds()
                try withResumeWatchdog(volumeGroupUUID: info.vgUUID) {
                    try lvm.createSnapshot(of: origin, name: name, cowSizeBytes: cowSize, tags: [LVM.snapshotTag])
                }
                let elapsed = Double(Clock.monotonicNanoseconds() - start) / 1e6
                let created = try lvm.usage(of: ref)
                try SnapshotGuard.mark(stateDir: configuration.stateDir, ref, uuid: created.deviceMapperUUID)
                let kind =
                    cowSize.map { "copy-on-write snapshot (COW store \(Quantity.format($0)))" } ?? "thin snapshot"
                print("created \(kind) \(ref) of \(origin) in \(Int(elapsed)) ms")
                if !mounted.isEmpty {
                    print(
                        "origin mounted at \(mounted.joined(separator: ", ")): its filesystem was frozen by LVM's "
                            + "suspend while the snapshot was taken")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List snapshots: origin, size, COW or thin data use, invalid and merging ones flagged.",
            discussion: "Example: flexlvm snapshot list --output json")

        @Option(help: "table or json.") var output: OutputFormat = .table
        @OptionGroup var nodeOptions: NodeOptions

        func run() throws {
            try admin {
                _ = try nodeOptions.configurationLoggingLibraries()
                let snapshots = try LVM().usage().filter(\.isSnapshot)
                switch output {
                case .json:
                    print(
                        "["
                            + snapshots.map { snapshotJSON($0) }.joined(separator: ",") + "]")
                case .table:
                    var lines = [["VG", "SNAPSHOT", "ORIGIN", "TYPE", "SIZE", "USE%", "STATE"]]
                    for snapshot in snapshots {
                        lines.append([
                            snapshot.ref.volumeGroup, snapshot.ref.name,
                            snapshot.origin.isEmpty ? "-" : snapshot.origin,
                            snapshot.isThin ? "thin" : "cow", Quantity.format(snapshot.sizeBytes),
                            snapshot.dataPercent.map { String(format2($0)) } ?? "-", snapshotState(snapshot),
                        ])
                    }
                    printTable(lines)
                }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a snapshot (refused for an LV that is not one).",
            discussion: "Example: flexlvm snapshot delete --vg kube_vg --name vol1-snap")

        @Option(help: "The volume group.") var vg: String
        @Option(help: "The snapshot's name.") var name: String
        @OptionGroup var nodeOptions: NodeOptions

        func run() throws {
            try admin {
                let configuration = try nodeOptions.configurationLoggingLibraries()
                let ref = try LogicalVolumeRef(volumeGroup: vg, name: name)
                let lvm = try LVM()
                let info = try lvm.usage(of: ref)
                guard info.isSnapshot else {
                    throw FlexLVMError(
                        .unsupported, "LV \(ref) is not a snapshot (lv_attr \(info.attributes)); it was not removed")
                }
                try lvm.remove(ref)
                SnapshotGuard.unmark(stateDir: configuration.stateDir, ref)
                print("deleted snapshot \(ref)")
            }
        }
    }
}

/// Where the origin's device is mounted now (empty when inactive or unmounted).
func originMounts(_ ref: LogicalVolumeRef) throws -> [String] {
    guard let device = try DeviceMapper.info(name: ref.deviceMapperName), device.hasLiveTable else { return [] }
    return try MountTable.current().mounts(of: DeviceNumber(major: device.major, minor: device.minor)).map(
        \.mountPoint)
}

/// Runs `body` (an LVM command that suspends devices of the VG) with a watchdog child that
/// resumes every suspended device of the VG if this process dies before `body` returns.
func withResumeWatchdog<T>(volumeGroupUUID: String, _ body: () throws -> T) throws -> T {
    let prefix = "LVM-" + volumeGroupUUID.filter { $0 != "-" }
    let fd = try DeviceMapper.startResumeWatchdog(uuidPrefix: prefix)
    defer {
        var done: UInt8 = 1
        _ = write(fd, &done, 1)
        close(fd)
    }
    #if DEBUG
        if Environment.value("FLEXLVM_TEST_KILL_AT") == "snapshot-suspended",
            let name = Environment.value("FLEXLVM_TEST_SUSPEND")
        {
            // Test hook: suspend the origin as LVM does (flush, filesystem frozen) and die.
            _ = DeviceMapper.suspend(name: name)
            kill(getpid(), SIGKILL)
        }
    #endif
    return try body()
}

func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

func snapshotState(_ snapshot: LogicalVolumeUsage) -> String {
    if snapshot.isInvalid { return "INVALID" }
    if snapshot.isMerging { return "merging" }
    return snapshot.isActive ? "active" : "inactive"
}

func snapshotJSON(_ snapshot: LogicalVolumeUsage) -> String {
    JSONWriter.object([
        ("vg", JSONWriter.string(snapshot.ref.volumeGroup)), ("name", JSONWriter.string(snapshot.ref.name)),
        ("origin", JSONWriter.string(snapshot.origin)), ("type", JSONWriter.string(snapshot.isThin ? "thin" : "cow")),
        ("sizeBytes", String(snapshot.sizeBytes)),
        ("usePercent", snapshot.dataPercent.map { format2($0) } ?? "null"),
        ("invalid", String(snapshot.isInvalid)), ("merging", String(snapshot.isMerging)),
        ("active", String(snapshot.isActive)),
    ])
}

/// Prints rows as aligned columns (the last one unpadded).
func printTable(_ lines: [[String]]) {
    guard let columns = lines.first?.count else { return }
    let widths = (0..<columns).map { column in lines.map { $0[column].count }.max() ?? 0 }
    for line in lines {
        print(
            zip(line, widths).enumerated().map { index, pair in
                index == columns - 1 ? pair.0 : pair.0 + String(repeating: " ", count: pair.1 - pair.0.count)
            }.joined(separator: "  "))
    }
}
