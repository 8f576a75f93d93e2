import FlexLVMCore
import Foundation

/// The driver file as kube-controller-manager runs it: in an empty root that holds only the
/// installed plugin files and a mounted /proc (KCM's image has no libc, no shell, no LVM).
enum EmptyRootTests {
    /// The static build of the driver file (scripts/test builds it).
    static var staticDriver: String {
        ProcessInfo.processInfo.environment["FLEXLVM_STATIC_DRIVER"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build-static/debug/flexlvm").path
    }

    static let cases: [TestCase] = [
        TestCase("empty-root/controller-operations") { fixture in
            let root = fixture.work.appendingPathComponent("kcm-root").path
            let pluginDir = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/flexlvm~lvm"
            try FileManager.default.createDirectory(atPath: root + pluginDir, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: staticDriver, toPath: root + pluginDir + "/lvm")
            try FileManager.default.copyItem(
                atPath: fixture.binaries.appendingPathComponent("flexlvm-node").path,
                toPath: root + pluginDir + "/.flexlvm-node")
            try fixture.run("mount", "-t", "proc", "proc", root + "/proc")
            defer { _ = try? fixture.run("umount", root + "/proc") }
            try expect(
                !FileManager.default.fileExists(atPath: root + "/lib64/ld-linux-x86-64.so.2"), "no loader in the root")

            func call(_ arguments: [String]) throws -> DriverReply {
                let result = try Fixture.execute(
                    ["chroot", root, pluginDir + "/lvm"] + arguments, environment: ["FLEXLVM_NODE_NAME": "kcm-host"])
                return try Fixture.checkReply(result, arguments: arguments)
            }
            let json = fixture.options("vol-1", pv: "pv-1")
            let initReply = try call(["init"])
            try expectEqual((initReply.json["capabilities"] as? [String: Bool])?["attach"], true, "init attach")
            try expectEqual(try call(["getvolumename", json]).status, "Not supported", "getvolumename")
            try expectEqual(try call(["attach", json, "node-a"]).device, "/dev/mapper/flexlvm_it-vol--1", "attach")
            try expectEqual(try call(["isattached", json, "node-a"]).attached, true, "isattached")
            try expectSuccess(try call(["detach", "pv-1", "node-a"]))
            // A controller host whose name equals the node's: the node binary cannot run
            // here, so the controller-side answers are given.
            try expectEqual(
                try call(["attach", json, "kcm-host"]).device, "/dev/mapper/flexlvm_it-vol--1", "same-name attach")
            try expectEqual(try call(["isattached", json, "kcm-host"]).attached, true, "same-name isattached")
            try expectSuccess(try call(["detach", "pv-1", "kcm-host"]))
            try expectFailure(
                try call(["attach", "{\"volumeID\":\"x\"}", "node-a"]), mentioning: ["volumegroup is missing"])
            try expectFailure(try call(["waitforattach", "", json]), mentioning: ["must run on the node"])
        }
    ]
}
