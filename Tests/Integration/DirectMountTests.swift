import FlexLVMCore
import Foundation

/// The attach:false mode (FLEXLVM_ATTACH=false): kubelet calls only init, mount and unmount.
enum DirectMountTests {
    static let direct = ["FLEXLVM_ATTACH": "false"]

    static let cases: [TestCase] =
        ["ext4", "xfs", "btrfs"].map { fs in
            TestCase("direct/two-pods-share-then-release-\(fs)") { fixture in try twoPods(fixture, fs: fs) }
        } + [
            TestCase("direct/read-only-and-never-reformat", readOnlyAndNeverReformat),
            TestCase("direct/secrets-are-neither-used-nor-logged", secrets),
            TestCase("direct/sigkill-during-mount-converges", killDuringMount),
            TestCase("direct/sigkill-after-unbind-still-releases", killAfterUnbind),
            TestCase("direct/bad-input", badInput),
        ]

    static func mount(_ fixture: Fixture, _ lv: String, pv: String, pod: String, extra: [String: String] = [:])
        throws -> DriverReply
    {
        var more = extra
        more["kubernetes.io/pod.uid"] = pod
        return try fixture.driver(
            ["mount", fixture.podDir(pv, pod: pod), fixture.options(lv, pv: pv, extra: more)], environment: direct)
    }

    static func unmount(_ fixture: Fixture, pv: String, pod: String) throws -> DriverReply {
        try fixture.driver(["unmount", fixture.podDir(pv, pod: pod)], environment: direct)
    }

    /// Mounts under the test's kubelet and staging dirs.
    static func leakedMounts(_ fixture: Fixture) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let point = line.split(separator: " ").dropFirst(4).first.map(String.init) ?? ""
            return point.hasPrefix(fixture.work.path + "/") ? point : nil
        }
    }

    static func twoPods(_ fixture: Fixture, fs: String) throws {
        let lv = "direct-\(fs)"
        let pv = "pv-d\(fs)"
        try fixture.createVolume(lv, size: fs == "xfs" ? "320M" : fs == "btrfs" ? "128M" : "64M")
        let extra = ["kubernetes.io/fsType": fs]
        let initReply = try fixture.driver(["init"], environment: direct)
        try expectEqual((initReply.json["capabilities"] as? [String: Bool])?["attach"], false, "init attach")

        try expectSuccess(try mount(fixture, lv, pv: pv, pod: "a", extra: extra))
        try expectSuccess(try mount(fixture, lv, pv: pv, pod: "b", extra: extra))
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-direct--\(fs)"), fs, "formatted as asked")
        let sumA = try fixture.writeRandomFile(fixture.podDir(pv, pod: "a") + "/from-a", bytes: 1 << 20)
        let sumB = try fixture.writeRandomFile(fixture.podDir(pv, pod: "b") + "/from-b", bytes: 1 << 20)
        try expectEqual(try fixture.checksum(fixture.podDir(pv, pod: "b") + "/from-a"), sumA, "b reads a's data")
        try expectEqual(try fixture.checksum(fixture.podDir(pv, pod: "a") + "/from-b"), sumB, "a reads b's data")

        try expectSuccess(try unmount(fixture, pv: pv, pod: "a"))
        try expect(try fixture.isActive(lv), "still active while pod b uses it")
        try expectEqual(try fixture.checksum(fixture.podDir(pv, pod: "b") + "/from-a"), sumA, "b still works")
        try expectSuccess(try unmount(fixture, pv: pv, pod: "b"))
        try expect(!(try fixture.isActive(lv)), "the last unmount releases the LV")
        try expectEqual(leakedMounts(fixture), [], "no mounts left")

        try expectSuccess(try mount(fixture, lv, pv: pv, pod: "c", extra: extra))
        try expectEqual(try fixture.checksum(fixture.podDir(pv, pod: "c") + "/from-a"), sumA, "data byte for byte")
        try expectEqual(try fixture.checksum(fixture.podDir(pv, pod: "c") + "/from-b"), sumB, "data byte for byte")
        try expectSuccess(try unmount(fixture, pv: pv, pod: "c"))
        try expectSuccess(try unmount(fixture, pv: pv, pod: "c"))
        try expect(!(try fixture.isActive(lv)), "released again")
    }

    static func readOnlyAndNeverReformat(_ fixture: Fixture) throws {
        let ro = ["kubernetes.io/readwrite": "ro"]
        try fixture.createVolume("d-blank")
        try expectFailure(try mount(fixture, "d-blank", pv: "pv-b", pod: "p", extra: ro), mentioning: ["read-only"])
        try expectSuccess(try unmount(fixture, pv: "pv-b", pod: "p"))
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-d--blank"), "", "a ro volume is never formatted")
        try expect(!(try fixture.isActive("d-blank")), "released after the failed mount")

        try fixture.createVolume("d-ro", size: "64M")
        try expectSuccess(try mount(fixture, "d-ro", pv: "pv-r", pod: "w"))
        let sum = try fixture.writeRandomFile(fixture.podDir("pv-r", pod: "w") + "/f", bytes: 8192)
        try expectSuccess(try unmount(fixture, pv: "pv-r", pod: "w"))
        try expectSuccess(try mount(fixture, "d-ro", pv: "pv-r", pod: "r", extra: ro))
        try expect(fixture.writeFailsReadOnly(fixture.podDir("pv-r", pod: "r")), "EROFS in the ro pod")
        try expectEqual(try fixture.checksum(fixture.podDir("pv-r", pod: "r") + "/f"), sum, "ro pod reads the data")
        // A read-write pod beside the read-only one: the staging mount is read-write, the
        // read-only pod's bind stays read-only.
        try expectSuccess(try mount(fixture, "d-ro", pv: "pv-r", pod: "w2"))
        _ = try fixture.writeRandomFile(fixture.podDir("pv-r", pod: "w2") + "/g", bytes: 4096)
        try expect(fixture.writeFailsReadOnly(fixture.podDir("pv-r", pod: "r")), "still EROFS in the ro pod")
        try expectSuccess(try unmount(fixture, pv: "pv-r", pod: "w2"))
        try expectSuccess(try unmount(fixture, pv: "pv-r", pod: "r"))
        try expect(!(try fixture.isActive("d-ro")), "released after the last pod")

        try fixture.createVolume("d-xfs", size: "320M", active: true)
        try fixture.run("mkfs.xfs", "-q", "/dev/mapper/flexlvm_it-d--xfs")
        try expectFailure(
            try mount(fixture, "d-xfs", pv: "pv-x", pod: "p", extra: ["kubernetes.io/fsType": "ext4"]),
            mentioning: ["holds xfs", "never formatted over"])
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-d--xfs"), "xfs", "still xfs")
        try expectEqual(leakedMounts(fixture), [], "no mounts left")
    }

    static func secrets(_ fixture: Fixture) throws {
        try fixture.createVolume("d-secret", size: "64M")
        let extra = ["kubernetes.io/secret/token": "c3VwZXItc2VjcmV0LXZhbHVl"]
        let reply = try mount(fixture, "d-secret", pv: "pv-s", pod: "p", extra: extra)
        try expectSuccess(reply)
        try expectSuccess(try unmount(fixture, pv: "pv-s", pod: "p"))
        let log = (try? String(contentsOfFile: fixture.logPath, encoding: .utf8)) ?? ""
        try expect(!log.contains("c3VwZXItc2VjcmV0LXZhbHVl"), "the secret never reaches the log")
        let state = try FileManager.default.subpathsOfDirectory(atPath: fixture.work.path).filter {
            !$0.hasSuffix(".img")
        }.compactMap { try? String(contentsOfFile: fixture.work.appendingPathComponent($0).path, encoding: .utf8) }
        try expect(!state.contains { $0.contains("c3VwZXItc2VjcmV0LXZhbHVl") }, "the secret is not stored")
    }

    static func killDuringMount(_ fixture: Fixture) throws {
        for step in ["activate-after", "mkfs-after", "mount-direct-staged"] {
            let lv = "d-kill-\(step)"
            try fixture.createVolume(lv, size: "64M")
            let podDir = fixture.podDir("pv-k", pod: step)
            let killed = try Fixture.execute(
                [
                    fixture.binaries.appendingPathComponent("flexlvm").path, "mount", podDir,
                    fixture.options(lv, pv: "pv-k"),
                ],
                environment: fixture.driverEnvironment.merging(direct) { $1 }.merging(["FLEXLVM_TEST_KILL_AT": step]) {
                    $1
                })
            try expectEqual(killed.status, 128 + SIGKILL, "killed at \(step)")
            try expectSuccess(try mount(fixture, lv, pv: "pv-k", pod: step))
            try expect(fixture.mountInfo(at: podDir) != nil, "the pod dir is bound after the retry (\(step))")
            try expectEqual(
                fixture.blkidType("/dev/mapper/flexlvm_it-\(lv.replacingOccurrences(of: "-", with: "--"))"), "ext4",
                "ext4 after \(step)")
            try expectSuccess(try unmount(fixture, pv: "pv-k", pod: step))
            try expect(!(try fixture.isActive(lv)), "released after \(step)")
            try expectEqual(leakedMounts(fixture), [], "no leaked mounts after \(step)")
        }
    }

    static func killAfterUnbind(_ fixture: Fixture) throws {
        try fixture.createVolume("d-unbind", size: "64M")
        try expectSuccess(try mount(fixture, "d-unbind", pv: "pv-u", pod: "p"))
        let killed = try Fixture.execute(
            [fixture.binaries.appendingPathComponent("flexlvm").path, "unmount", fixture.podDir("pv-u", pod: "p")],
            environment: fixture.driverEnvironment.merging(direct) { $1 }.merging([
                "FLEXLVM_TEST_KILL_AT": "unmount-direct-unbound"
            ]) { $1 })
        try expectEqual(killed.status, 128 + SIGKILL, "killed after unbinding")
        try expect(try fixture.isActive("d-unbind"), "the crash left the LV staged")
        // kubelet retries unmount; the pod dir is gone, and the staged LV is released.
        try expectSuccess(try unmount(fixture, pv: "pv-u", pod: "p"))
        try expect(!(try fixture.isActive("d-unbind")), "released on the retry")
        try expectEqual(leakedMounts(fixture), [], "no leaked mounts")
    }

    static func badInput(_ fixture: Fixture) throws {
        try fixture.createVolume("d-bad")
        for (argv, words) in [
            (["mount", "/tmp/elsewhere", fixture.options("d-bad")], ["pods dir"]),
            (["mount", fixture.podDir("pv", pod: "p"), fixture.options("a b")], ["not a valid LVM name"]),
            (["mount", fixture.podDir("pv", pod: "p"), "{\"volumegroup\":1}"], ["must be a string"]),
            (
                [
                    "mount", fixture.podDir("pv", pod: "p"),
                    fixture.options("d-bad", extra: ["kubernetes.io/fsType": "ntfs"]),
                ],
                ["not supported"]
            ),
            (["unmount", "/etc"], ["pods dir"]),
        ] {
            try expectFailure(try fixture.driver(argv, environment: direct), mentioning: words)
        }
        try expect(!(try fixture.isActive("d-bad")), "nothing activated")
        try expectEqual(leakedMounts(fixture), [], "nothing mounted")
    }
}
