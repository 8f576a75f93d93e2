import FlexLVMCore
import Foundation

/// The attach lifecycle through the driver binary, with kubelet's and KCM's exact argv
/// (contract §1), on both sides: the node itself and a controller for another node.
enum AttachTests {
    static let cases: [TestCase] = [
        TestCase("attach/init-and-getvolumename") { fixture in
            let initReply = try fixture.driver(["init"])
            try expectSuccess(initReply)
            let capabilities = initReply.json["capabilities"] as? [String: Bool] ?? [:]
            try expectEqual(
                capabilities,
                [
                    "attach": true, "selinuxRelabel": true, "supportsMetrics": true, "fsGroup": true,
                    "requiresFSResize": true,
                ],
                "capabilities")
            try expectEqual(
                try fixture.driver(["getvolumename", fixture.options("x")]).status, "Not supported", "getvolumename")
            try expectEqual(try fixture.driver(["frobnicate", "x"]).status, "Not supported", "unknown operation")
            try expectFailure(try fixture.driver(["init", "extra"]), mentioning: ["init takes 0 arguments"])
            try expectFailure(try fixture.driver([]), mentioning: ["no operation"])
        },
        TestCase("attach/node-side-lifecycle") { fixture in
            try fixture.createVolume("vol")
            let json = fixture.options("vol")
            let device = "/dev/mapper/flexlvm_it-vol"

            let attach = try fixture.driver(["attach", json, fixture.nodeName])
            try expectSuccess(attach)
            try expectEqual(attach.device, device, "attach device")
            try expect(try fixture.isActive("vol"), "attach on the node activates the LV")
            try expect(fixture.dmsetupHasDevice("flexlvm_it-vol"), "dmsetup sees the device")

            let isAttached = try fixture.driver(["isattached", json, fixture.nodeName])
            try expectEqual(isAttached.attached, true, "isattached after attach")

            let wait = try fixture.driver(["waitforattach", device, json])
            try expectEqual(wait.device, device, "waitforattach device")

            let detach = try fixture.driver(["detach", "pv-vol", fixture.nodeName])
            try expectSuccess(detach)
            try expect(!(try fixture.isActive("vol")), "detach on the node deactivates the LV")
            try expect(!fixture.dmsetupHasDevice("flexlvm_it-vol"), "dmsetup no longer sees the device")
            try expectEqual(
                try fixture.driver(["isattached", json, fixture.nodeName]).attached, false, "isattached after detach")
        },
        TestCase("attach/controller-side-for-another-node") { fixture in
            try fixture.createVolume("remote")
            let json = fixture.options("remote")
            let attach = try fixture.driver(["attach", json, "some-other-node"])
            try expectEqual(attach.device, "/dev/mapper/flexlvm_it-remote", "controller-side attach device")
            try expect(!(try fixture.isActive("remote")), "the controller side does not touch LVM")
            try expectEqual(
                try fixture.driver(["isattached", json, "some-other-node"]).attached, true, "controller-side isattached"
            )
            try expectSuccess(try fixture.driver(["detach", "pv-remote", "some-other-node"]))
            // Activation then happens on the node, in waitforattach.
            let wait = try fixture.driver(["waitforattach", attach.device!, json])
            try expectEqual(wait.device, "/dev/mapper/flexlvm_it-remote", "waitforattach device")
            try expect(try fixture.isActive("remote"), "waitforattach activates the LV")
            // And the controller side never deactivates.
            try expectSuccess(try fixture.driver(["detach", "pv-remote", "some-other-node"]))
            try expect(try fixture.isActive("remote"), "controller-side detach leaves the node's LV alone")
        },
        TestCase("attach/repeats-converge") { fixture in
            try fixture.createVolume("again", active: false)
            let json = fixture.options("again")
            try expectSuccess(try fixture.driver(["attach", json, fixture.nodeName]))
            try expectSuccess(try fixture.driver(["attach", json, fixture.nodeName]))
            try expect(try fixture.isActive("again"), "active after attach twice")
            // waitforattach after a manual deactivation reactivates.
            try fixture.run("lvchange", "-an", "\(fixture.volumeGroup)/again")
            let wait = try fixture.driver(["waitforattach", "/dev/mapper/flexlvm_it-again", json])
            try expectEqual(wait.device, "/dev/mapper/flexlvm_it-again", "waitforattach after lvchange -an")
            try expect(try fixture.isActive("again"), "reactivated")
            // A stale device path (kubernetes#55314) is not trusted.
            let stale = try fixture.driver(["waitforattach", "/dev/mapper/flexlvm_it-something--else", json])
            try expectEqual(stale.device, "/dev/mapper/flexlvm_it-again", "waitforattach ignores a stale path")
            try expectSuccess(try fixture.driver(["detach", "pv-again", fixture.nodeName]))
            try expectSuccess(try fixture.driver(["detach", "pv-again", fixture.nodeName]))
            try expect(!(try fixture.isActive("again")), "inactive after detach twice")
            // detach of a volume this node never attached.
            try expectSuccess(try fixture.driver(["detach", "pv-never-seen", fixture.nodeName]))
        },
        TestCase("attach/hot-path-reads-no-lvm-metadata") { fixture in
            try fixture.createVolume("hot")
            let json = fixture.options("hot")
            var offset = fixture.logSize
            try expectSuccess(try fixture.driver(["waitforattach", "", json]))
            try expect(
                fixture.lvmCommandsLogged(since: offset).contains { $0.hasPrefix("lvchange -ay") },
                "activation of an inactive LV runs lvchange in-process: \(fixture.lvmCommandsLogged(since: offset))")
            offset = fixture.logSize
            try expectSuccess(try fixture.driver(["waitforattach", "/dev/mapper/flexlvm_it-hot", json]))
            try expectSuccess(try fixture.driver(["attach", json, fixture.nodeName]))
            try expectEqual(try fixture.driver(["isattached", json, fixture.nodeName]).attached, true, "isattached")
            try expectEqual(fixture.lvmCommandsLogged(since: offset), [], "LVM commands on the hot path")
            try expectEqual(
                fixture.repliesLogged(since: offset, side: "node-hot-path"), ["waitforattach", "isattached"],
                "calls the driver file answered without the node binary")
        },
        TestCase("attach/static-driver-file-answers-the-hot-path") { fixture in
            // The driver file as installed: fully static, libdevmapper.a linked in, with the
            // node binary beside it under its dot-name.
            let plugin = fixture.work.appendingPathComponent("plugin/flexlvm~lvm").path
            try FileManager.default.createDirectory(atPath: plugin, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: EmptyRootTests.staticDriver, toPath: plugin + "/lvm")
            try FileManager.default.copyItem(
                atPath: fixture.binaries.appendingPathComponent("flexlvm-node").path, toPath: plugin + "/.flexlvm-node")
            let driver = plugin + "/lvm"
            try fixture.createVolume("static")
            let json = fixture.options("static", pv: "pv-static")
            let device = "/dev/mapper/flexlvm_it-static"
            var offset = fixture.logSize
            try expectEqual(
                try fixture.driver(["isattached", json, fixture.nodeName], binary: driver).attached, false,
                "isattached, inactive")
            try expectEqual(
                try fixture.driver(["waitforattach", "", json], binary: driver).device, device, "activates")
            try expect(try fixture.isActive("static"), "LV active after waitforattach")
            try expectEqual(
                fixture.repliesLogged(since: offset, side: "node-hot-path"), ["isattached"],
                "activation is the node binary's work")
            offset = fixture.logSize
            try expectEqual(
                try fixture.driver(["waitforattach", device, json], binary: driver).device, device, "active LV")
            try expectEqual(
                try fixture.driver(["isattached", json, fixture.nodeName], binary: driver).attached, true, "isattached")
            try expectEqual(
                fixture.repliesLogged(since: offset, side: "node-hot-path"), ["waitforattach", "isattached"],
                "hot path answered by the static driver file")
            try expectEqual(fixture.lvmCommandsLogged(since: offset), [], "LVM commands on the hot path")
            // What the hot path recorded lets detach (given only the PV name) find the LV.
            try FileManager.default.removeItem(atPath: fixture.work.appendingPathComponent("state/volumes").path)
            try expectSuccess(try fixture.driver(["waitforattach", device, json], binary: driver))
            try expectSuccess(try fixture.driver(["detach", "pv-static", fixture.nodeName], binary: driver))
            try expect(!(try fixture.isActive("static")), "detach released the LV recorded by the hot path")
            // A name held by a device that is not this LV: the node binary's refusal.
            try fixture.run("dmsetup", "create", "flexlvm_it-impostor", "--table", "0 8 error")
            defer { _ = try? fixture.run("dmsetup", "remove", "flexlvm_it-impostor") }
            try expectFailure(
                try fixture.driver(["waitforattach", "", fixture.options("impostor")], binary: driver),
                mentioning: ["is not LV flexlvm_it/impostor"])
        },
        TestCase("attach/old-isattached-argument-order") { fixture in
            try fixture.createVolume("old", active: true)
            let reply = try fixture.driver(["isattached", fixture.nodeName, fixture.options("old")])
            try expectEqual(reply.attached, true, "isattached <node> <json>")
        },
        TestCase("attach/open-device-is-not-detached") { fixture in
            try fixture.createVolume("busy")
            try expectSuccess(try fixture.driver(["attach", fixture.options("busy"), fixture.nodeName]))
            let holder = open("/dev/mapper/flexlvm_it-busy", O_RDONLY)
            try expect(holder >= 0, "open the device")
            defer { close(holder) }
            let detach = try fixture.driver(["detach", "pv-busy", fixture.nodeName])
            try expectFailure(detach, mentioning: ["flexlvm_it/busy", "open by 1 holder"])
            try expect(try fixture.isActive("busy"), "the LV stays active")
        },
        TestCase("attach/errors-an-admin-can-act-on") { fixture in
            let node = fixture.nodeName
            try expectFailure(
                try fixture.driver(["attach", fixture.options("x", vg: "no_such_vg"), node]),
                mentioning: ["volume group no_such_vg not found"])
            try expectFailure(
                try fixture.driver(["waitforattach", "", fixture.options("absent")]),
                mentioning: ["logical volume absent not found in volume group flexlvm_it"])
            try fixture.run("lvcreate", "-q", "-y", "-T", "-L", "16M", "\(fixture.volumeGroup)/pool")
            try expectFailure(
                try fixture.driver(["attach", fixture.options("pool"), node]), mentioning: ["thin pool", "cannot hold"])
            try expectFailure(
                try fixture.driver(["attach", fixture.options("snapshot0"), node]), mentioning: ["reserved"])
            try expectFailure(
                try fixture.driver(["attach", fixture.options("a;rm -rf /"), node]),
                mentioning: ["not a valid LVM name"])
            try expectFailure(
                try fixture.driver(["attach", "{\"volumegroup\":\"flexlvm_it\"}", node]),
                mentioning: ["volumeID is missing"])
            try expectFailure(try fixture.driver(["attach", "[1]", node]), mentioning: ["must be a JSON object"])
            try fixture.createVolume("skipped")
            try fixture.run("lvchange", "-q", "--setactivationskip", "y", "\(fixture.volumeGroup)/skipped")
            try expectFailure(
                try fixture.driver(["waitforattach", "", fixture.options("skipped")]), mentioning: ["activation-skip"])
            try expect(!(try fixture.isActive("skipped")), "skipped LV stays inactive")
        },
    ]
}
