import FlexLVMCore
import Foundation

/// The admin commands on real LVM: provision, volumes, doctor, install, uninstall.
enum AdminTests {
    static let cases: [TestCase] = [
        TestCase("admin/provision-then-kubelet-order-and-volumes", provision),
        TestCase("admin/doctor-passes-in-the-guest", doctor),
        TestCase("admin/install-layout-and-probe-loop", install),
    ]

    /// Runs `flexlvm` as an admin would (output for people, exit status).
    static func admin(_ fixture: Fixture, _ arguments: [String]) throws -> Subprocess.Result {
        try Fixture.execute(
            [fixture.binaries.appendingPathComponent("flexlvm").path] + arguments,
            environment: fixture.driverEnvironment)
    }

    static func validate(_ fixture: Fixture, yaml: String) throws {
        guard let python = ProcessInfo.processInfo.environment["FLEXLVM_TEST_PYTHON"] else {
            throw TestFailure(
                "FLEXLVM_TEST_PYTHON is not set (scripts/test sets it to the python with kubernetes-validate)")
        }
        let file = fixture.work.appendingPathComponent("pv.yaml").path
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        try Fixture.run([python, "-m", "kubernetes_validate", "--strict", "-k", "1.31", file])
    }

    static func volumesJSON(_ fixture: Fixture) throws -> [[String: Any]] {
        let result = try admin(fixture, ["volumes", "--output", "json"])
        try expectEqual(result.status, 0, "volumes exit status (\(result.standardError))")
        return try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [[String: Any]] ?? []
    }

    static func provision(_ fixture: Fixture) throws {
        let dry = try admin(
            fixture, ["provision", "--vg", fixture.volumeGroup, "--name", "prov1", "--size", "40Mi", "--dry-run"])
        try expectEqual(dry.status, 0, "dry run: \(dry.standardError)")
        try expect((try? fixture.attributes("prov1")) == nil, "--dry-run creates nothing")

        let result = try admin(
            fixture,
            [
                "provision", "--vg", fixture.volumeGroup, "--name", "prov1", "--size", "38Mi", "--fs", "xfs",
                "--pv-name", "pv-prov1",
            ])
        try expectEqual(result.status, 0, "provision: \(result.standardError)")
        let yaml = result.standardOutput
        try validate(fixture, yaml: yaml)
        for line in [
            "name: pv-prov1", "driver: flexlvm/lvm", "volumegroup: \"flexlvm_it\"", "volumeID: \"prov1\"",
            "fsType: xfs",
            "storage: 40Mi", "- \"test-node\"",
        ] {
            try expect(yaml.contains(line), "the PV has \(line):\n\(yaml)")
        }
        let tags = try fixture.run("lvs", "--noheadings", "-o", "lv_tags,lv_size", "--units", "b", "flexlvm_it/prov1")
        try expect(tags.contains("flexlvm.pv=pv-prov1") && tags.contains("41943040B"), "tags and real size: \(tags)")
        let again = try admin(fixture, ["provision", "--vg", fixture.volumeGroup, "--name", "prov1", "--size", "40Mi"])
        try expect(
            again.status != 0 && again.standardError.contains("already exists"),
            "refuses to reuse: \(again.standardError)")
        try expect(!again.standardError.contains("Fatal error"), "no stack trace")
        let bad = try admin(fixture, ["provision", "--vg", fixture.volumeGroup, "--name", "x", "--size=-5Gi"])
        try expect(
            bad.status != 0 && bad.standardError.contains("not a positive Kubernetes quantity"),
            "bad size: \(bad.standardError)")

        var listed = try volumesJSON(fixture).first { $0["lv"] as? String == "prov1" }
        try expectEqual(listed?["active"] as? Bool, false, "listed inactive")
        try expectEqual(listed?["persistentVolume"] as? String, "pv-prov1", "PV name")

        // The printed PV's options, through the full kubelet order.
        let extra = ["kubernetes.io/fsType": "xfs"]
        try fixture.run("lvextend", "-q", "-L", "320M", "flexlvm_it/prov1")  // xfs needs 300 MB
        _ = try fixture.attachAndMountDevice("prov1", pv: "pv-prov1", extra: extra)
        try expectSuccess(try fixture.mountPod("prov1", pv: "pv-prov1", pod: "pod-1", extra: extra))
        listed = try volumesJSON(fixture).first { $0["lv"] as? String == "prov1" }
        try expectEqual(listed?["active"] as? Bool, true, "listed active")
        try expectEqual(listed?["filesystem"] as? String, "xfs", "filesystem")
        try expectEqual(listed?["globalMounts"] as? [String], [fixture.globalDir("pv-prov1")], "global mount")
        try expectEqual(listed?["podMounts"] as? [String], [fixture.podDir("pv-prov1", pod: "pod-1")], "pod mount")
        let table = try admin(fixture, ["volumes"]).standardOutput
        try expect(table.contains("prov1") && table.contains("pod \(fixture.podDir("pv-prov1", pod: "pod-1"))"), table)

        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-prov1", pod: "pod-1")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-prov1")]))
        listed = try volumesJSON(fixture).first { $0["lv"] as? String == "prov1" }
        try expectEqual(listed?["active"] as? Bool, false, "listed inactive after unmountdevice")
        try expectEqual(listed?["podMounts"] as? [String], [], "no pod mounts")
    }

    static func doctor(_ fixture: Fixture) throws {
        let pluginDir = fixture.work.appendingPathComponent("plugins").path
        try expectEqual(try admin(fixture, ["install", "--plugin-dir", pluginDir]).status, 0, "install")
        let result = try admin(fixture, ["doctor", "--plugin-dir", pluginDir])
        try expectEqual(
            result.status, 0, "doctor passes in the guest:\n\(result.standardOutput)\(result.standardError)")
        try expect(result.standardOutput.hasPrefix("ok    kernel device-mapper: driver 4."), result.standardOutput)
        let json = try admin(fixture, ["doctor", "--plugin-dir", pluginDir, "--output", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any]
        try expectEqual(object?["ok"] as? Bool, true, "json ok")
        // Not installed: doctor fails and says how to fix it.
        let missing = try admin(fixture, ["doctor", "--plugin-dir", fixture.work.appendingPathComponent("none").path])
        try expect(missing.status != 0 && missing.standardOutput.contains("flexlvm install"), missing.standardOutput)
    }

    static func install(_ fixture: Fixture) throws {
        let pluginDir = fixture.work.appendingPathComponent("probe-plugins").path
        try expectEqual(try admin(fixture, ["install", "--plugin-dir", pluginDir]).status, 0, "install")
        let driverDir = pluginDir + "/flexlvm~lvm"
        try expectEqual(try FileManager.default.contentsOfDirectory(atPath: pluginDir), ["flexlvm~lvm"], "plugin dir")
        try expectEqual(
            try FileManager.default.contentsOfDirectory(atPath: driverDir).sorted(), [".flexlvm-node", "lvm"],
            "exactly the layout kubelet probes")
        let mode = try FileManager.default.attributesOfItem(atPath: driverDir + "/lvm")[.posixPermissions] as? Int
        try expectEqual(mode, 0o755, "mode")
        let initReply = try Fixture.checkReply(
            try Fixture.execute([driverDir + "/lvm", "init"], environment: fixture.driverEnvironment),
            arguments: ["init"])
        try expectSuccess(initReply)

        // kubelet's prober runs init while the driver is reinstalled: never a half-written file.
        let stop = Locked(false)
        let bad = Locked<[String]>([])
        let probes = Locked(0)
        let prober = Thread {
            while !stop.withLock({ $0 }) {
                do {
                    let result = try Fixture.execute(
                        [driverDir + "/lvm", "init"], environment: fixture.driverEnvironment)
                    _ = try Fixture.checkReply(result, arguments: ["init"])
                    probes.withLock { $0 += 1 }
                } catch {
                    bad.withLock { $0.append("\(error)") }
                }
            }
        }
        prober.start()
        for _ in 0..<5 {
            try expectEqual(try admin(fixture, ["install", "--plugin-dir", pluginDir]).status, 0, "reinstall")
        }
        stop.withLock { $0 = true }
        while !prober.isFinished { usleep(10_000) }
        try expectEqual(bad.withLock { $0 }, [], "probes during reinstall")
        try expect(probes.withLock { $0 } > 0, "the prober ran")
        try expectEqual(
            try FileManager.default.contentsOfDirectory(atPath: driverDir).sorted(), [".flexlvm-node", "lvm"],
            "no temporary files left")
        try expectEqual(try admin(fixture, ["uninstall", "--plugin-dir", pluginDir]).status, 0, "uninstall")
        try expect(!FileManager.default.fileExists(atPath: driverDir), "removed")
    }
}
