import ArgumentParser
import DeviceMapperQueries
import Filesystems
import FlexLVMCore
import FlexVolume
import LVM
import Mounts
import NodeDriver

/// Output formats of the admin commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// `flexlvm volumes`: the LVs flexlvm manages on this node and where they are mounted.
struct Volumes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the LVs flexlvm manages on this node: size, state, mounts, PV, filesystem.",
        discussion: """
            An LV is listed when flexlvm provisioned it (tag "flexlvm") or a PV attached it here.

            Example: flexlvm volumes --output json
            """)

    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var nodeOptions: NodeOptions

    struct Row {
        var info: LogicalVolumeInfo
        var persistentVolume: String
        var active: Bool
        var filesystem: String
        var globalMounts: [String]
        var podMounts: [String]
    }

    func run() throws {
        try admin {
            let configuration = try nodeOptions.configurationLoggingLibraries()
            let lvm = try LVM()
            let (volumes, names) = try Self.managed(lvm, stateDir: configuration.stateDir)
            let usage = try lvm.usage()
            let snapshots = Dictionary(grouping: usage.filter { $0.isSnapshot && !$0.origin.isEmpty }) {
                "\($0.ref.volumeGroup)/\($0.origin)"
            }
            let merging = Set(usage.filter(\.hasMergingSnapshot).map(\.ref.lvmPath))
            let table = try MountTable.current()
            let rows = try volumes.sorted { $0.ref.lvmPath < $1.ref.lvmPath }.map { info -> Row in
                let device = try DeviceMapper.info(name: info.ref.deviceMapperName)
                let active = device?.hasLiveTable ?? false
                let mounts = device.map { table.mounts(of: DeviceNumber(major: $0.major, minor: $0.minor)) } ?? []
                let filesystem = active ? ((try? BlockProbe.probe(info.ref.devicePath))??.type ?? "none") : "-"
                return Row(
                    info: info, persistentVolume: names[info.ref] ?? "-", active: active, filesystem: filesystem,
                    globalMounts: mounts.map(\.mountPoint).filter {
                        (try? KubeletPaths.locate(globalMountPath: $0, allowedRoot: configuration.kubeletRoot)) != nil
                            || $0.hasPrefix(MountTable.canonical(configuration.stagingDir) + "/")
                    },
                    podMounts: mounts.map(\.mountPoint).filter {
                        (try? KubeletPaths.locate(podVolumeDir: $0, allowedRoot: configuration.kubeletRoot)) != nil
                    })
            }
            switch output {
            case .json:
                let objects = rows.map { row in
                    JSONWriter.object([
                        ("vg", JSONWriter.string(row.info.ref.volumeGroup)),
                        ("lv", JSONWriter.string(row.info.ref.name)),
                        ("sizeBytes", String(row.info.sizeBytes)), ("active", String(row.active)),
                        ("persistentVolume", JSONWriter.string(row.persistentVolume)),
                        ("filesystem", JSONWriter.string(row.filesystem)),
                        ("globalMounts", "[" + row.globalMounts.map(JSONWriter.string).joined(separator: ",") + "]"),
                        ("podMounts", "[" + row.podMounts.map(JSONWriter.string).joined(separator: ",") + "]"),
                        ("mergePending", String(merging.contains(row.info.ref.lvmPath))),
                        (
                            "snapshots",
                            "[" + (snapshots[row.info.ref.lvmPath] ?? []).map(snapshotJSON).joined(separator: ",") + "]"
                        ),
                    ])
                }
                print("[" + objects.joined(separator: ",") + "]")
            case .table:
                var lines = [["VG", "LV", "SIZE", "ACTIVE", "PV", "FS", "MOUNTED"]]
                for row in rows {
                    let mounted = row.globalMounts.map { "global \($0)" } + row.podMounts.map { "pod \($0)" }
                    let pending = merging.contains(row.info.ref.lvmPath)
                    lines.append([
                        row.info.ref.volumeGroup, row.info.ref.name, Quantity.format(row.info.sizeBytes),
                        (row.active ? "yes" : "no") + (pending ? " (merge pending)" : ""), row.persistentVolume,
                        row.filesystem, mounted.isEmpty ? "-" : mounted.joined(separator: ", "),
                    ])
                    for snapshot in snapshots[row.info.ref.lvmPath] ?? [] {
                        lines.append([
                            "", "└ " + snapshot.ref.name, Quantity.format(snapshot.sizeBytes),
                            snapshotState(snapshot), "snapshot (\(snapshot.isThin ? "thin" : "cow"))",
                            snapshot.dataPercent.map { "\(format2($0))% used" } ?? "-", "-",
                        ])
                    }
                }
                let widths = (0..<7).map { column in lines.map { $0[column].count }.max() ?? 0 }
                for line in lines {
                    print(
                        zip(line, widths).enumerated().map { index, pair in
                            index == 6 ? pair.0 : pair.0 + String(repeating: " ", count: pair.1 - pair.0.count)
                        }.joined(separator: "  "))
                }
            }
        }
    }
}

extension Volumes {
    /// The LVs flexlvm manages on this node: tagged `flexlvm`, or recorded in the state dir's
    /// volume map (attached through a PV), with the PV name of each when known (its
    /// `flexlvm.pv=` tag, else the name the map records).
    static func managed(
        _ lvm: LVM, stateDir: String
    ) throws -> (volumes: [LogicalVolumeInfo], names: [LogicalVolumeRef: String]) {
        var volumes = try lvm.logicalVolumes(tagged: LVM.managedTag)
        var names: [LogicalVolumeRef: String] = [:]
        for info in volumes {
            if let tag = info.tags.first(where: { $0.hasPrefix(LVM.persistentVolumeTagPrefix) }) {
                names[info.ref] = String(tag.dropFirst(LVM.persistentVolumeTagPrefix.count))
            }
        }
        for (volumeName, ref) in try VolumeMap(stateDir: stateDir).entries() {
            if names[ref] == nil { names[ref] = volumeName }
            if !volumes.contains(where: { $0.ref == ref }), let info = try? lvm.logicalVolume(ref) {
                volumes.append(info)
            }
        }
        return (volumes, names)
    }
}
