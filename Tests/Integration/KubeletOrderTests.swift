import FlexLVMCore
import Foundation

/// The orders and setups in which the real kubelet drives the driver (contract §10): a
/// restart with a broken config, a mode change without a re-probe, OpenShift's plugin dir,
/// another kubelet root, shared mount propagation, LVs left active without an owner, a
/// read-only pod before a read-write one, a node binary that cannot load, secrets in a failed
/// call, and expandfs given the pod's dir.
enum KubeletOrderTests {
    static let cases: [TestCase] = [
        TestCase("kubelet/init-and-teardown-with-a-broken-config", brokenConfig),
        TestCase("kubelet/mount-follows-the-volume-not-the-config", mountFollowsTheVolume),
        TestCase("kubelet/openshift-plugin-dir-is-attach-false", openShiftPluginDir),
        TestCase("kubelet/any-kubelet-root", anyKubeletRoot),
        TestCase("kubelet/mount-propagation-reaches-the-host", propagation),
        TestCase("kubelet/reconcile-releases-unowned-lvs", reconcile),
        TestCase("kubelet/read-only-pod-then-read-write-pod", readOnlyThenReadWrite),
        TestCase("kubelet/node-binary-that-cannot-load", unloadableNodeBinary),
        TestCase("kubelet/failure-with-secrets-exits-zero", secretsExitZero),
        TestCase("kubelet/expandfs-gets-the-pod-dir", expandThroughThePodDir),
    ]

    static func staging(_ fixture: Fixture, _ dmName: String) -> String {
        fixture.work.appendingPathComponent("staging/\(dmName)").path
    }

    /// Writes `text` to a file in the work dir and returns its path.
    static func file(_ fixture: Fixture, _ name: String, _ text: String) throws -> String {
        let path = fixture.work.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `flexlvm doctor --output json` as an admin runs it; its checks by name.
    static func doctor(_ fixture: Fixture, environment: [String: String] = [:], pluginDir: String? = nil) throws
        -> [String: (status: String, detail: String)]
    {
        let result = try Fixture.execute(
            [fixture.binaries.appendingPathComponent("flexlvm").path, "doctor", "--output", "json"]
                + (pluginDir.map { ["--plugin-dir", $0] } ?? []),
            environment: fixture.driverEnvironment.merging(environment) { $1 })
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any],
            let checks = object["checks"] as? [[String: String]]
        else { throw TestFailure("doctor gave no JSON: \(result.standardOutput) \(result.standardError)") }
        var byName: [String: (String, String)] = [:]
        for check in checks { byName[check["name"] ?? ""] = (check["status"] ?? "", check["detail"] ?? "") }
        return byName
    }

    // MARK: - 1. init never depends on the config file; teardown works with a broken one

    static func brokenConfig(_ fixture: Fixture) throws {
        try fixture.createVolume("cfg", size: "64M")
        _ = try fixture.attachAndMountDevice("cfg", pv: "pv-cfg")
        try expectSuccess(try fixture.mountPod("cfg", pv: "pv-cfg", pod: "p1"))
        let sum = try fixture.writeRandomFile(fixture.podDir("pv-cfg", pod: "p1") + "/f", bytes: 16384)

        // An admin breaks the file; kubelet restarts and probes the plugin again.
        let broken = [
            "FLEXLVM_CONFIG": try file(
                fixture, "broken.conf", "attach = flase\ncolour = blue\nlogFile = relative.log\n")
        ]
        let probe = try fixture.driver(["init"], environment: broken)
        try expectSuccess(probe)
        try expectEqual((probe.json["capabilities"] as? [String: Bool])?["attach"], true, "init's attach")
        // The calls that need the settings name the problem.
        try expectFailure(
            try fixture.driver(["waitforattach", "", fixture.options("cfg", pv: "pv-cfg")], environment: broken),
            mentioning: ["configuration is broken", "flase"])
        try expectFailure(
            try fixture.mountPod("cfg", pv: "pv-cfg", pod: "p2", environment: broken),
            mentioning: ["configuration is broken"])
        // Teardown of the volume in use still works, down to the release of the LV.
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-cfg", pod: "p1")], environment: broken))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-cfg")], environment: broken))
        try expect(!(try fixture.isActive("cfg")), "the LV is released with a broken config")
        try expectSuccess(try fixture.driver(["detach", "pv-cfg", fixture.nodeName], environment: broken))
        let checks = try doctor(fixture, environment: broken)
        try expectEqual(checks["configuration"]?.status, "fail", "doctor fails the configuration")
        try expect(checks["configuration"]?.detail.contains("flase") == true, "doctor names the problem")
        try expect(checks["attach mode"]?.detail.contains("attach: true") == true, "doctor says the mode in force")

        // Fixed, the data is all there.
        _ = try fixture.attachAndMountDevice("cfg", pv: "pv-cfg")
        try expectSuccess(try fixture.mountPod("cfg", pv: "pv-cfg", pod: "p3"))
        try expectEqual(try fixture.checksum(fixture.podDir("pv-cfg", pod: "p3") + "/f"), sum, "data byte for byte")
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-cfg", pod: "p3")]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-cfg")]))
    }

    // MARK: - 2. kubelet freezes init's capabilities: mount follows the volume

    static func mountFollowsTheVolume(_ fixture: Fixture) throws {
        // kubelet probed attach:true; the admin then sets attach=false without a re-probe.
        try fixture.createVolume("mode", size: "64M")
        _ = try fixture.attachAndMountDevice("mode", pv: "pv-mode")
        let attachFalse = ["FLEXLVM_ATTACH": "false"]
        try expectSuccess(try fixture.mountPod("mode", pv: "pv-mode", pod: "p1", environment: attachFalse))
        try expect(
            fixture.mountInfo(at: staging(fixture, "flexlvm_it-mode")) == nil, "no second mount on a staging dir")
        try expectEqual(
            fixture.mountInfo(at: fixture.podDir("pv-mode", pod: "p1"))?.device,
            fixture.mountInfo(at: fixture.globalDir("pv-mode"))?.device, "the pod gets the global mount")
        try expectSuccess(
            try fixture.driver(["unmount", fixture.podDir("pv-mode", pod: "p1")], environment: attachFalse))
        try expectSuccess(
            try fixture.driver(["unmountdevice", fixture.globalDir("pv-mode")], environment: attachFalse))
        try expect(!(try fixture.isActive("mode")), "released")

        // kubelet probed attach:false (no mountdevice); the admin then sets attach=true.
        try expectSuccess(
            try fixture.mountPod("mode", pv: "pv-mode", pod: "p2", environment: ["FLEXLVM_ATTACH": "true"]))
        try expect(fixture.mountInfo(at: staging(fixture, "flexlvm_it-mode")) != nil, "staged")
        _ = try fixture.writeRandomFile(fixture.podDir("pv-mode", pod: "p2") + "/g", bytes: 4096)
        try expectSuccess(
            try fixture.driver(
                ["unmount", fixture.podDir("pv-mode", pod: "p2")], environment: ["FLEXLVM_ATTACH": "true"]))
        try expect(fixture.mountInfo(at: staging(fixture, "flexlvm_it-mode")) == nil, "unstaged")
        try expect(!(try fixture.isActive("mode")), "released")
    }

    // MARK: - 3. OpenShift's plugin dir

    /// The driver installed in OpenShift's plugin dir reports attach:false unless told
    /// otherwise. The guest's /etc is the host's, read-only: a view of it with that plugin dir
    /// added is bound over /etc for the test.
    static func openShiftPluginDir(_ fixture: Fixture) throws {
        let realEtc = fixture.work.appendingPathComponent("real-etc").path
        let fakeEtc = fixture.work.appendingPathComponent("fake-etc").path
        try FileManager.default.createDirectory(atPath: realEtc, withIntermediateDirectories: true)
        try fixture.run("mount", "--bind", "/etc", realEtc)
        defer { _ = try? fixture.run("umount", realEtc) }
        try FileManager.default.createDirectory(atPath: fakeEtc, withIntermediateDirectories: true)
        for entry in try FileManager.default.contentsOfDirectory(atPath: realEtc) where entry != "kubernetes" {
            try FileManager.default.createSymbolicLink(
                atPath: fakeEtc + "/" + entry, withDestinationPath: realEtc + "/" + entry)
        }
        let pluginDir = "/etc/kubernetes/kubelet-plugins/volume/exec"
        let driverDir = fakeEtc + "/kubernetes/kubelet-plugins/volume/exec/flexlvm~lvm"
        try FileManager.default.createDirectory(atPath: driverDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: fixture.binaries.appendingPathComponent("flexlvm").path, toPath: driverDir + "/lvm")
        try FileManager.default.copyItem(
            atPath: fixture.binaries.appendingPathComponent("flexlvm-node").path, toPath: driverDir + "/.flexlvm-node")
        try fixture.run("mount", "--bind", fakeEtc, "/etc")
        defer { _ = try? fixture.run("umount", "/etc") }

        let driver = pluginDir + "/flexlvm~lvm/lvm"
        func attach(_ environment: [String: String]) throws -> Bool? {
            let reply = try fixture.driver(["init"], binary: driver, environment: environment)
            try expectSuccess(reply)
            return (reply.json["capabilities"] as? [String: Bool])?["attach"]
        }
        try expectEqual(try attach([:]), false, "attach in OpenShift's plugin dir")
        try expectEqual(try attach(["FLEXLVM_ATTACH": "true"]), true, "told otherwise by the variable")
        let conf = try file(fixture, "attach-true.conf", "attach = true\n")
        try expectEqual(try attach(["FLEXLVM_CONFIG": conf]), true, "told otherwise by the file")
        try expectEqual(
            try fixture.driver(["init"]).json["capabilities"].flatMap { ($0 as? [String: Bool])?["attach"] }, true,
            "attach elsewhere")
        let checks = try doctor(fixture, pluginDir: pluginDir)
        let mode = checks["attach mode"]?.detail ?? ""
        try expect(mode.contains("attach: false") && mode.contains("OpenShift"), "doctor says why: \(mode)")

        // The attach:false order from the installed file.
        try fixture.createVolume("ocp", size: "64M")
        try expectSuccess(try fixture.mountPod("ocp", pv: "pv-ocp", pod: "p", binary: driver))
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-ocp", pod: "p")], binary: driver))
        try expect(!(try fixture.isActive("ocp")), "released")
    }

    // MARK: - 4. Any kubelet root

    static func anyKubeletRoot(_ fixture: Fixture) throws {
        let root = fixture.work.appendingPathComponent("k0s/var/lib/k0s/kubelet").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let unset = ["FLEXLVM_KUBELET_ROOT": ""]
        try fixture.createVolume("k0s", size: "64M")
        let json = fixture.options("k0s", pv: "pv-k0s")
        let global = "\(root)/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts/pv-k0s"
        let pod = "\(root)/pods/p1/volumes/flexlvm~lvm/pv-k0s"
        let attach = try fixture.driver(["attach", json, fixture.nodeName], environment: unset)
        try expectSuccess(attach)
        try expectSuccess(try fixture.driver(["waitforattach", attach.device ?? "", json], environment: unset))
        try expectSuccess(try fixture.driver(["mountdevice", global, attach.device ?? "", json], environment: unset))
        var withPod = fixture.options("k0s", pv: "pv-k0s", extra: ["kubernetes.io/pod.uid": "p1"])
        try expectSuccess(try fixture.driver(["mount", pod, withPod], environment: unset))
        let sum = try fixture.writeRandomFile(pod + "/f", bytes: 8192)
        try expectEqual(try fixture.checksum(global + "/f"), sum, "the pod writes to the LV")

        // The kubeletRoot setting restricts the roots accepted.
        withPod = fixture.options("k0s", pv: "pv-k0s", extra: ["kubernetes.io/pod.uid": "p2"])
        let other = "\(root)/pods/p2/volumes/flexlvm~lvm/pv-k0s"
        try expectFailure(
            try fixture.driver(["mount", other, withPod], environment: ["FLEXLVM_KUBELET_ROOT": "/var/lib/kubelet"]),
            mentioning: ["kubeletRoot"])
        try expect(!FileManager.default.fileExists(atPath: other), "nothing made for a refused root")

        // A restriction set while pods run never keeps them from being torn down.
        let restricted = ["FLEXLVM_KUBELET_ROOT": "/var/lib/kubelet"]
        try expectSuccess(try fixture.driver(["unmount", pod], environment: restricted))
        try expectSuccess(try fixture.driver(["unmountdevice", global], environment: restricted))
        try expectSuccess(try fixture.driver(["detach", "pv-k0s", fixture.nodeName], environment: unset))
        try expect(!(try fixture.isActive("k0s")), "released")

        // No writable /var/lib assumed: doctor names each dir the driver needs and fails one
        // it cannot write (the guest's /usr is read-only).
        let checks = try doctor(fixture, environment: ["FLEXLVM_STATE_DIR": "/usr/share/flexlvm-state"] + unset)
        try expectEqual(checks["state dir"]?.status, "fail", "a read-only state dir")
        try expectEqual(checks["lock dir"]?.status, "ok", "the lock dir")
        try expect(checks["kubelet root"]?.detail.contains("any") == true, "doctor says the kubelet root")
        let restrictedChecks = try doctor(fixture)
        try expect(
            restrictedChecks["kubelet root"]?.detail.contains(fixture.kubeletRoot) == true,
            "doctor says the restriction")
    }

    // MARK: - 5. Mount propagation

    /// The optional fields (propagation) of the mount at `path`.
    static func propagation(_ path: String) -> String? {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").reversed() {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count > 6, fields[4] == path, let dash = fields.firstIndex(of: "-") {
                return fields[6..<dash].joined(separator: " ")
            }
        }
        return nil
    }

    /// A containerized kubelet: its root is shared with the host's view of it (a peer). Pod
    /// binds must keep the propagation kubelet's own bind gives (shared, so runtimes accept
    /// `mountPropagation`), and their unmount must reach the host, or the LV stays open.
    static func propagation(_ fixture: Fixture) throws {
        let kubelet = fixture.kubeletRoot
        let host = fixture.work.appendingPathComponent("host-view").path
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try fixture.run("mount", "--bind", kubelet, kubelet)
        try fixture.run("mount", "--make-shared", kubelet)
        try fixture.run("mount", "--bind", kubelet, host)
        defer {
            _ = try? fixture.run("umount", "-R", host)
            _ = try? fixture.run("umount", "-R", kubelet)
        }
        try fixture.createVolume("prop", size: "64M")
        _ = try fixture.attachAndMountDevice("prop", pv: "pv-prop")
        try expectSuccess(try fixture.mountPod("prop", pv: "pv-prop", pod: "p1"))
        try expectSuccess(
            try fixture.mountPod("prop", pv: "pv-prop", pod: "p2", extra: ["kubernetes.io/readwrite": "ro"]))
        let pods = ["p1", "p2"].map { fixture.podDir("pv-prop", pod: $0) }
        for pod in pods {
            let fields = propagation(pod) ?? ""
            try expect(fields.contains("shared:"), "the pod bind \(pod) is shared, as kubelet's own is: '\(fields)'")
            let hostSide = host + pod.dropFirst(kubelet.count)
            try expect(propagation(hostSide) != nil, "the host sees the pod bind at \(hostSide)")
        }
        try expect(fixture.writeFailsReadOnly(pods[1]), "the ro pod is read-only")
        for pod in pods { try expectSuccess(try fixture.driver(["unmount", pod])) }
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-prop")]))
        let leftovers = DirectMountTests.leakedMounts(fixture).filter { $0.hasPrefix(host + "/") }
        try expectEqual(leftovers, [], "the host's view keeps no mount of the volume")
        try expect(!(try fixture.isActive("prop")), "the LV is released (nothing holds it on the host)")
    }

    // MARK: - 6. reconcile

    static func runReconcile(_ fixture: Fixture) throws -> [String: [String]] {
        let result = try Fixture.execute(
            [fixture.binaries.appendingPathComponent("flexlvm").path, "reconcile", "--output", "json"],
            environment: fixture.driverEnvironment)
        guard result.status == 0,
            let object = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any]
        else {
            throw TestFailure("reconcile failed (\(result.status)): \(result.standardOutput) \(result.standardError)")
        }
        return object.compactMapValues { $0 as? [String] }
    }

    static func reconcile(_ fixture: Fixture) throws {
        for lv in ["rc-crash", "rc-failed", "rc-opener", "rc-used", "rc-locked"] {
            try fixture.createVolume(lv, size: "32M")
            _ = try fixture.attachAndMountDevice(lv, pv: "pv-\(lv)")
        }
        // Each cause below is set up so that no later teardown call's own sweep of idle
        // volumes releases the earlier ones: reconcile alone must.
        // A transient opener while unmountdevice runs: the release is skipped.
        let opener = FileHandle(forReadingAtPath: "/dev/mapper/flexlvm_it-rc--opener")
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-rc-opener")]))
        try expect(try fixture.isActive("rc-opener"), "an open LV is not deactivated")
        // A driver call holds rc-locked's lock.
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-rc-locked")]))
        try fixture.run("lvchange", "-q", "-ay", "\(fixture.volumeGroup)/rc-locked")
        let lock = try FileLock(path: fixture.work.appendingPathComponent("lock/flexlvm_it-rc--locked.lock").path)
        // A deactivation LVM refuses: something opens the device after the driver's check.
        let held = try startHoldingDuringDeactivation(fixture, lv: "rc-failed")
        // A crash between unmount and deactivation: kubelet never retries (not a mount any more).
        try ReliabilityTests.killed(
            fixture, at: "deactivate-before", ["unmountdevice", fixture.globalDir("pv-rc-crash")])
        for lv in ["rc-crash", "rc-failed", "rc-opener", "rc-locked"] {
            try expect(try fixture.isActive(lv), "\(lv) is left active without an owner")
        }
        held.closeFile()
        opener?.closeFile()
        var report = try runReconcile(fixture)
        try expectEqual(
            Set(report["released"] ?? []),
            ["flexlvm_it/rc-crash", "flexlvm_it/rc-failed", "flexlvm_it/rc-opener"], "released")
        try expectEqual(report["busy"] ?? [], ["flexlvm_it/rc-locked"], "a locked LV is skipped")
        try expectEqual(report["inUse"] ?? [], ["flexlvm_it/rc-used"], "a mounted LV is in use")
        for lv in ["rc-crash", "rc-failed", "rc-opener"] { try expect(!(try fixture.isActive(lv)), "\(lv) released") }
        try expect(try fixture.isActive("rc-used"), "the mounted LV stays active")
        lock.release()
        report = try runReconcile(fixture)
        try expectEqual(report["released"] ?? [], ["flexlvm_it/rc-locked"], "released on the next pass")

        // A reboot: LVM's auto-activation activates every LV of the VG. The recorded ones
        // (and one provisioned through flexlvm but never used) are released; an LV the driver
        // never served is left alone.
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-rc-used")]))
        _ = try Fixture.run(
            [
                fixture.binaries.appendingPathComponent("flexlvm").path, "provision", "--vg", fixture.volumeGroup,
                "--name",
                "rc-provisioned", "--size", "16Mi", "--pv-name", "pv-rc-provisioned", "--node", fixture.nodeName,
            ],
            environment: fixture.driverEnvironment)
        try fixture.createVolume("rc-unserved", size: "16M")
        try fixture.run("vgchange", "-q", "-ay", fixture.volumeGroup)
        report = try runReconcile(fixture)
        try expectEqual(
            Set(report["released"] ?? []),
            Set(
                ["rc-crash", "rc-failed", "rc-opener", "rc-used", "rc-locked", "rc-provisioned"].map {
                    "flexlvm_it/\($0)"
                }),
            "released after the reboot")
        try expect(try fixture.isActive("rc-unserved"), "an LV the driver never served is not touched")
    }

    /// Runs unmountdevice of `lv` held at the step before deactivation, opens the LV's device
    /// meanwhile (so LVM refuses), and returns the open handle once the call has failed.
    static func startHoldingDuringDeactivation(_ fixture: Fixture, lv: String) throws -> FileHandle {
        let offset = fixture.logSize
        let call = Thread.detachedResult {
            try fixture.driver(
                ["unmountdevice", fixture.globalDir("pv-\(lv)")],
                environment: ["FLEXLVM_TEST_PAUSE_AT": "deactivate-before", "FLEXLVM_TEST_PAUSE_MS": "3000"])
        }
        let deadline = Date().addingTimeInterval(60)
        while !fixture.logEvents(since: offset).contains("test-pause") {
            guard Date() < deadline else { throw TestFailure("the driver never reached deactivate-before") }
            usleep(20_000)
        }
        guard
            let handle = FileHandle(
                forReadingAtPath: "/dev/mapper/flexlvm_it-\(lv.replacingOccurrences(of: "-", with: "--"))")
        else { throw TestFailure("cannot open the LV's device") }
        let reply = try call.wait()
        try expectFailure(reply, mentioning: [])
        return handle
    }

    // MARK: - 7. A read-only pod, then a read-write pod

    static func readOnlyThenReadWrite(_ fixture: Fixture) throws {
        let ro = ["kubernetes.io/readwrite": "ro"]
        // A blank LV first asked read-only: Failure, nothing formatted or mounted.
        try fixture.createVolume("rorw", size: "64M")
        let roJSON = fixture.options("rorw", pv: "pv-rorw", extra: ro)
        try expectSuccess(try fixture.driver(["waitforattach", "", roJSON]))
        try expectFailure(
            try fixture.driver(["mountdevice", fixture.globalDir("pv-rorw"), "", roJSON]), mentioning: ["read-only"])
        try expectEqual(fixture.blkidType("/dev/mapper/flexlvm_it-rorw"), "", "not formatted")
        try expect(fixture.mountInfo(at: fixture.globalDir("pv-rorw")) == nil, "not mounted")
        // Formatted once by a read-write pod, then a read-only pod comes first.
        _ = try fixture.attachAndMountDevice("rorw", pv: "pv-rorw")
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-rorw")]))
        _ = try fixture.attachAndMountDevice("rorw", pv: "pv-rorw", extra: ro)
        try expectSuccess(try fixture.mountPod("rorw", pv: "pv-rorw", pod: "reader", extra: ro))
        try expectSuccess(try fixture.mountPod("rorw", pv: "pv-rorw", pod: "writer"))
        let sum = try fixture.writeRandomFile(fixture.podDir("pv-rorw", pod: "writer") + "/w", bytes: 8192)
        try expectEqual(
            try fixture.checksum(fixture.podDir("pv-rorw", pod: "reader") + "/w"), sum, "the reader sees it")
        try expect(fixture.writeFailsReadOnly(fixture.podDir("pv-rorw", pod: "reader")), "the reader stays read-only")
        for pod in ["reader", "writer"] {
            try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-rorw", pod: pod)]))
        }
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-rorw")]))
        try expect(!(try fixture.isActive("rorw")), "released")
    }

    // MARK: - 8. A node binary that cannot load

    static func unloadableNodeBinary(_ fixture: Fixture) throws {
        let work = fixture.work.appendingPathComponent("unloadable").path
        let driverDir = work + "/flexlvm~lvm"
        try FileManager.default.createDirectory(atPath: driverDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: fixture.binaries.appendingPathComponent("flexlvm").path, toPath: driverDir + "/lvm")
        // A node binary linked against a library that is then gone, as after an uninstalled
        // libdevmapper.
        _ = try file(fixture, "unloadable/gone.c", "int flexlvm_gone(void) { return 0; }\n")
        _ = try file(
            fixture, "unloadable/main.c", "int flexlvm_gone(void);\nint main(void) { return flexlvm_gone(); }\n")
        try fixture.run("gcc", "-shared", "-fPIC", "-o", work + "/libflexlvm-gone.so", work + "/gone.c")
        try fixture.run(
            "gcc", "-o", driverDir + "/.flexlvm-node", work + "/main.c", "-L" + work, "-lflexlvm-gone")
        try FileManager.default.removeItem(atPath: work + "/libflexlvm-gone.so")

        try fixture.createVolume("unl")
        let driver = driverDir + "/lvm"
        try expectSuccess(try fixture.driver(["init"], binary: driver))
        let mount = try fixture.mountPod("unl", pv: "pv-unl", pod: "p", binary: driver)
        try expectFailure(mount, mentioning: [".flexlvm-node", "libflexlvm-gone.so", "status 127"])
        try expectFailure(
            try fixture.driver(["unmountdevice", fixture.globalDir("pv-unl")], binary: driver),
            mentioning: ["libflexlvm-gone.so"])
        // On a node, a call KCM also makes is a Failure too: a controller-side Success would
        // claim a release that was not done.
        try expectFailure(
            try fixture.driver(["detach", "pv-unl", fixture.nodeName], binary: driver),
            mentioning: ["libflexlvm-gone.so"])
        try expect(!(try fixture.isActive("unl")), "nothing activated")
    }

    // MARK: - 9. Secrets in a failed call

    static func secretsExitZero(_ fixture: Fixture) throws {
        let secret = "c2VjcmV0LXZhbHVlLTQy"
        let json = fixture.options(
            "no-such-lv", pv: "pv-sec", extra: ["kubernetes.io/secret/password": secret, "kubernetes.io/pod.uid": "p"])
        let program = fixture.binaries.appendingPathComponent("flexlvm").path
        let result = try Fixture.execute(
            [program, "mount", fixture.podDir("pv-sec", pod: "p"), json], environment: fixture.driverEnvironment)
        let reply = try Fixture.checkReply(result, arguments: ["mount"], carriesSecrets: true)
        try expectFailure(reply, mentioning: ["not found"])
        try expectEqual(result.status, 0, "a Failure that carries secrets exits 0")
        // The same failure without secrets exits 1, as every other Failure.
        let plain = try Fixture.execute(
            [program, "mount", fixture.podDir("pv-sec", pod: "p"), fixture.options("no-such-lv", pv: "pv-sec")],
            environment: fixture.driverEnvironment)
        try expectEqual(plain.status, 1, "a Failure without secrets exits 1")
        // mountdevice refuses secrets, exit 0 too.
        let refused = try Fixture.execute(
            [program, "mountdevice", fixture.globalDir("pv-sec"), "", json], environment: fixture.driverEnvironment)
        try expectFailure(
            try Fixture.checkReply(refused, arguments: ["mountdevice"], carriesSecrets: true),
            mentioning: ["no secrets"])
        // A node binary killed mid-call (the OOM killer, say): with secrets in argv the driver
        // file replies a Failure with exit 0 rather than dying by the same signal, which kubelet
        // would log with the argv.
        try fixture.createVolume("sec", size: "64M")
        let killedJSON = fixture.options(
            "sec", pv: "pv-sec2", extra: ["kubernetes.io/secret/password": secret, "kubernetes.io/pod.uid": "k"])
        let killed = try Fixture.execute(
            [program, "mount", fixture.podDir("pv-sec2", pod: "k"), killedJSON],
            environment: fixture.driverEnvironment.merging(["FLEXLVM_TEST_KILL_AT": "mount-direct-staged"]) { $1 })
        try expectFailure(
            try Fixture.checkReply(killed, arguments: ["mount"], carriesSecrets: true),
            mentioning: ["killed by signal 9"])
        try expectEqual(killed.status, 0, "exit 0 with secrets")
        try expectSuccess(try fixture.driver(["unmount", fixture.podDir("pv-sec2", pod: "k")]))
        try expect(!(try fixture.isActive("sec")), "released after the crash")
        let log = (try? String(contentsOfFile: fixture.logPath, encoding: .utf8)) ?? ""
        try expect(!log.contains(secret), "the log never holds the secret")
    }

    // MARK: - 10. expandfs gets the pod's volume dir

    static func expandThroughThePodDir(_ fixture: Fixture) throws {
        let mib: Int64 = 1 << 20
        try fixture.createVolume("grow", size: "64M")
        let device = try fixture.attachAndMountDevice("grow", pv: "pv-grow")
        let json = fixture.options("grow", pv: "pv-grow")
        let pod = fixture.podDir("pv-grow", pod: "p1")
        // During mount: kubelet passes the pod dir before it is a mount.
        let before = try fixture.filesystemSize(fixture.globalDir("pv-grow"))
        try expectSuccess(try fixture.driver(["expandfs", json, device, pod, String(128 * mib), String(64 * mib)]))
        let during = try fixture.filesystemSize(fixture.globalDir("pv-grow"))
        try expect(during > before + Int(48 * mib), "grown during mount: \(before) -> \(during)")
        // In use: the pod dir is the pod's bind.
        try expectSuccess(try fixture.mountPod("grow", pv: "pv-grow", pod: "p1"))
        try expectSuccess(try fixture.driver(["expandfs", json, device, pod, String(192 * mib), String(128 * mib)]))
        let inUse = try fixture.filesystemSize(pod)
        try expect(inUse > during + Int(48 * mib), "grown in use: \(during) -> \(inUse)")
        try expectSuccess(try fixture.driver(["unmount", pod]))
        try expectSuccess(try fixture.driver(["unmountdevice", fixture.globalDir("pv-grow")]))

        // attach:false: the filesystem is on the staging dir.
        try fixture.createVolume("grow2", size: "64M")
        let pod2 = fixture.podDir("pv-grow2", pod: "p2")
        try expectSuccess(try fixture.mountPod("grow2", pv: "pv-grow2", pod: "p2"))
        let staged = try fixture.filesystemSize(pod2)
        try expectSuccess(
            try fixture.driver([
                "expandfs", fixture.options("grow2", pv: "pv-grow2"), "/dev/mapper/flexlvm_it-grow2", pod2,
                String(128 * mib), String(64 * mib),
            ]))
        try expect(try fixture.filesystemSize(pod2) > staged + Int(48 * mib), "grown through the pod dir (staged)")
        try expectSuccess(try fixture.driver(["unmount", pod2]))
        try expect(!(try fixture.isActive("grow2")), "released")
    }
}

extension Thread {
    /// Runs `body` on a new thread; `wait()` returns its result.
    static func detachedResult<T>(_ body: @escaping @Sendable () throws -> T) -> PendingResult<T> {
        let pending = PendingResult<T>()
        Thread.detachNewThread {
            pending.finish(Result { try body() })
        }
        return pending
    }
}

/// A result another thread delivers.
final class PendingResult<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, any Error>?

    func finish(_ value: Result<T, any Error>) {
        condition.lock()
        result = value
        condition.broadcast()
        condition.unlock()
    }

    func wait() throws -> T {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return try result!.get()
    }
}

extension Dictionary where Key == String, Value == String {
    static func + (left: Self, right: Self) -> Self { left.merging(right) { $1 } }
}

extension Fixture {
    /// The events the driver logged since `offset` bytes into the log.
    func logEvents(since offset: Int) -> [String] {
        guard let data = FileManager.default.contents(atPath: logPath), data.count > offset else { return [] }
        return String(decoding: data[offset...], as: UTF8.self).split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["event"] as? String
        }
    }
}
