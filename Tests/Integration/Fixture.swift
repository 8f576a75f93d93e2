import FlexLVMCore
import Foundation

/// The guest-side test environment: a VG on a loop file (and a second VG, so that scans
/// see more than one), the built binaries, and the real LVM tools as an independent
/// observer. Tests use the `lvm`/`dmsetup` tools only to set up and to check; the driver
/// never runs them.
final class Fixture: @unchecked Sendable {
    let volumeGroup = "flexlvm_it"
    let otherVolumeGroup = "flexlvm_other"
    let work: URL
    let binaries: URL
    private var loopDevices: [String] = []

    private init(work: URL, binaries: URL) {
        self.work = work
        self.binaries = binaries
    }

    /// Creates the loop files, PVs and VGs.
    static func make() throws -> Fixture {
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("flexlvm-it-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let fixture = Fixture(work: work, binaries: binaries)
        for (vg, size) in [(fixture.volumeGroup, "1G"), (fixture.otherVolumeGroup, "64M")] {
            let image = work.appendingPathComponent("\(vg).img").path
            try run("truncate", "-s", size, image)
            let loop = try run("losetup", "--find", "--show", image).trimmingCharacters(in: .whitespacesAndNewlines)
            fixture.loopDevices.append(loop)
            try run("pvcreate", "-q", loop)
            try run("vgcreate", "-q", vg, loop)
        }
        return fixture
    }

    /// Removes every LV of the test VG, so that each test starts from an empty VG.
    func reset() throws {
        // Unmount whatever a failed test left under the work dir, innermost first.
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let leftovers = mountinfo.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].hasPrefix(work.path + "/") ? String(fields[4]) : nil
        }
        for path in leftovers.reversed() { _ = try? run("umount", "-l", path) }
        try? FileManager.default.removeItem(at: work.appendingPathComponent("kubelet"))
        // kubelet's root dir exists on every node; the driver never creates it.
        try FileManager.default.createDirectory(
            at: work.appendingPathComponent("kubelet"), withIntermediateDirectories: true)
        _ = try? run("vgchange", "-q", "-an", volumeGroup)
        let names = try run("lvs", "--noheadings", "-o", "lv_name", volumeGroup)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !names.isEmpty { try run("lvremove", "-q", "-f", volumeGroup) }
    }

    /// Deactivates and removes the VGs and detaches the loop devices.
    func tearDown() {
        for vg in [volumeGroup, otherVolumeGroup] {
            _ = try? Fixture.run("vgchange", "-q", "-an", vg)
            _ = try? Fixture.run("vgremove", "-q", "-f", vg)
        }
        for loop in loopDevices {
            _ = try? Fixture.run("pvremove", "-q", "-f", loop)
            _ = try? Fixture.run("losetup", "-d", loop)
        }
        try? FileManager.default.removeItem(at: work)
    }

    /// Creates an LV of `size` in the test VG (inactive unless `active`).
    @discardableResult
    func createVolume(_ name: String, size: String = "16M", active: Bool = false) throws -> String {
        // Extents of removed LVs are reused: wipe old signatures and zero the start, as
        // lvcreate does by default, so that a new LV is blank.
        try run("lvcreate", "-q", "-y", "-W", "y", "-Z", "y", "-n", name, "-L", size, "-a", "y", volumeGroup)
        if !active { try run("lvchange", "-q", "-an", "\(volumeGroup)/\(name)") }
        return name
    }

    /// The LVM command line tool's view of `vg/lv`'s lv_attr.
    func attributes(_ name: String, in vg: String? = nil) throws -> String {
        try run("lvs", "--noheadings", "-o", "lv_attr", "\(vg ?? volumeGroup)/\(name)")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// dmsetup's view: whether a device-mapper device of that name exists.
    func dmsetupHasDevice(_ dmName: String) -> Bool {
        (try? run("dmsetup", "info", "-c", "--noheadings", "-o", "name", dmName)) != nil
    }

    /// Runs a tool and returns its stdout; throws with its output when it fails.
    @discardableResult
    func run(_ arguments: String...) throws -> String { try Fixture.run(arguments) }

    @discardableResult
    static func run(_ arguments: String...) throws -> String { try run(arguments) }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let result = try execute(arguments, environment: environment)
        guard result.succeeded else {
            throw TestFailure(
                "\(arguments.joined(separator: " ")) exited \(result.status): \(result.standardError)\(result.standardOutput)"
            )
        }
        return result.standardOutput
    }

    /// Runs a program (no shell) and collects its output.
    static func execute(_ arguments: [String], environment: [String: String]? = nil) throws -> Subprocess.Result {
        var env: [String]?
        if let environment {
            env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        }
        return try Subprocess.run(arguments, environment: env, timeout: 300)
    }
}
