import FlexLVMCore
import Testing

@testable import FlexVolume

private func parse(_ words: [String]) throws -> Invocation.Parsed {
    try Invocation.parse(words.map { Array($0.utf8) })
}

private let json = #"{"volumegroup":"vg","volumeID":"lv","kubernetes.io/readwrite":"ro"}"#

@Suite("argv parsing")
struct InvocationTests {
    @Test func parsesEveryOperationInKubeletsOrder() throws {
        var options = VolumeOptions()
        options.volumeGroup = "vg"
        options.volumeID = "lv"
        options.readOnly = true
        #expect(try parse(["init"]) == .call(.initialize))
        #expect(try parse(["getvolumename", json]) == .call(.getVolumeName))
        #expect(try parse(["attach", json, "node-1"]) == .call(.attach(options, node: "node-1")))
        #expect(
            try parse(["waitforattach", "/dev/mapper/vg-lv", json])
                == .call(.waitForAttach(devicePath: "/dev/mapper/vg-lv", options)))
        #expect(try parse(["waitforattach", "", json]) == .call(.waitForAttach(devicePath: "", options)))
        #expect(try parse(["isattached", json, "node-1"]) == .call(.isAttached(options, node: "node-1")))
        #expect(try parse(["detach", "pv-1", "node-1"]) == .call(.detach(volumeName: "pv-1", node: "node-1")))
        #expect(
            try parse(["mountdevice", "/g", "/dev/x", json])
                == .call(.mountDevice(mountPath: "/g", devicePath: "/dev/x", options)))
        #expect(try parse(["unmountdevice", "/g"]) == .call(.unmountDevice(mountPath: "/g")))
        #expect(try parse(["mount", "/p", json]) == .call(.mount(podDir: "/p", options)))
        #expect(try parse(["unmount", "/p"]) == .call(.unmount(podDir: "/p")))
        #expect(
            try parse(["expandfs", json, "/dev/x", "/g", "2048", "1024"])
                == .call(.expandFS(options, devicePath: "/dev/x", mountPath: "/g", newSize: 2048, oldSize: 1024)))
        #expect(
            try parse(["expandvolume", json, "/g", "2048", "0"])
                == .call(.expandVolume(options, mountPath: "/g", newSize: 2048, oldSize: 0)))
    }

    @Test func acceptsTheOldIsattachedOrder() throws {
        guard case .call(.isAttached(let options, let node)) = try parse(["isattached", "node-1", json]) else {
            Issue.record("not parsed as isattached")
            return
        }
        #expect(node == "node-1")
        #expect(options.volumeID == "lv")
    }

    @Test func unknownOperationsAreNotSupported() throws {
        #expect(try parse(["waitfordetach", "x"]) == .notSupported(operation: "waitfordetach"))
        #expect(try parse(["getdevicename"]) == .notSupported(operation: "getdevicename"))
    }

    @Test(arguments: [
        [], ["init", "x"], ["attach", json], ["attach", json, "n", "extra"], ["detach", "pv"], ["mount", "/p"],
        ["unmount"], ["mountdevice", "/g", json], ["expandfs", json, "/d", "/g", "1"],
    ])
    func wrongArgumentCountsFail(_ words: [String]) {
        #expect(throws: FlexLVMError.self) { try parse(words) }
    }

    @Test(arguments: [
        "relative/dir", "/var/lib/kubelet/../../etc", "/a/\n/b", "", "/a\u{7f}", String(repeating: "/a", count: 3000),
    ])
    func refusesUnsafePaths(_ path: String) {
        #expect(throws: FlexLVMError.self) { try parse(["unmount", path]) }
    }

    @Test(arguments: ["-1", "0", "1.5", "1e9", "99999999999999999999", "", " 1", "0x10", "１"])
    func refusesBadSizes(_ size: String) {
        #expect(throws: FlexLVMError.self) { try parse(["expandfs", json, "/dev/x", "/g", size, "1"]) }
    }

    @Test(arguments: ["", "../etc", "a/b", "pv;rm", "pv name", ".hidden", "-x", String(repeating: "p", count: 254)])
    func refusesBadVolumeNames(_ name: String) {
        #expect(throws: FlexLVMError.self) { try parse(["detach", name, "node"]) }
    }

    @Test(arguments: ["", "a b", "a/b", "tab\there", String(repeating: "n", count: 254)])
    func refusesBadNodeNames(_ node: String) {
        #expect(throws: FlexLVMError.self) { try parse(["attach", json, node]) }
    }

    @Test func refusesNonUTF8Arguments() {
        #expect(throws: FlexLVMError.self) {
            try Invocation.parse([Array("detach".utf8), [0x70, 0xFF], Array("n".utf8)])
        }
        #expect(throws: FlexLVMError.self) { try Invocation.parse([[0xC3, 0x28]]) }
        #expect(throws: FlexLVMError.self) {
            try Invocation.parse([
                Array("attach".utf8), Array("{\"volumeID\":\"".utf8) + [0xFF] + Array("\"}".utf8), Array("n".utf8),
            ])
        }
    }
}
