import Foundation

/// What "no change on the node" compares: device-mapper devices (from sysfs, the kernel's
/// own view), the mount table, and LVM's list of LVs with their attributes.
struct NodeState: Equatable {
    var deviceMapper: [String]
    var mounts: [String]
    var volumes: [String]

    /// Device-mapper devices and mounts: cheap, read for every corpus case.
    static func kernel() -> NodeState {
        var devices: [String] = []
        let blocks = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        for block in blocks.sorted() where block.hasPrefix("dm-") {
            let name = (try? String(contentsOfFile: "/sys/block/\(block)/dm/name", encoding: .utf8)) ?? "?"
            let uuid = (try? String(contentsOfFile: "/sys/block/\(block)/dm/uuid", encoding: .utf8)) ?? "?"
            devices.append(
                "\(name.trimmingCharacters(in: .whitespacesAndNewlines)) \(uuid.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let mounts = mountinfo.split(separator: "\n").map { line in
            // Mount IDs change on remount; compare what is mounted where and how.
            line.split(separator: " ").dropFirst(2).joined(separator: " ")
        }
        return NodeState(deviceMapper: devices, mounts: mounts.sorted(), volumes: [])
    }

    /// The kernel's view plus LVM's list of LVs (one `lvs` exec).
    static func full(_ fixture: Fixture) throws -> NodeState {
        var state = kernel()
        state.volumes = try fixture.run("lvs", "--noheadings", "-o", "vg_name,lv_name,lv_attr,lv_size")
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.sorted()
        return state
    }

    /// A readable difference.
    func difference(from other: NodeState) -> String {
        var out: [String] = []
        for (what, mine, theirs) in [
            ("dm", deviceMapper, other.deviceMapper), ("mount", mounts, other.mounts), ("lv", volumes, other.volumes),
        ] {
            for line in Set(mine).subtracting(theirs) { out.append("+\(what) \(line)") }
            for line in Set(theirs).subtracting(mine) { out.append("-\(what) \(line)") }
        }
        return out.joined(separator: "; ")
    }
}
