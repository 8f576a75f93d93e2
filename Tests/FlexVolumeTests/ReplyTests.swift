import FlexLVMCore
import Testing

@testable import FlexVolume

@Suite("replies and controller-side answers")
struct ReplyTests {
    @Test func encodesExactlyOneCompactObject() {
        #expect(
            Reply.success(device: "/dev/mapper/vg-lv").json == #"{"status":"Success","device":"/dev/mapper/vg-lv"}"#)
        #expect(Reply.notSupported.json == #"{"status":"Not supported"}"#)
        #expect(Reply.failure("bad <input>").json == #"{"status":"Failure","message":"bad \u003cinput\u003e"}"#)
        #expect(Reply(.success, attached: false).json == #"{"status":"Success","attached":false}"#)
    }

    @Test func exitStatusMatchesTheContract() {
        #expect(Reply.success().exitStatus(carryingSecrets: false) == 0)
        #expect(Reply.notSupported.exitStatus(carryingSecrets: false) == 0)
        #expect(Reply.failure("x").exitStatus(carryingSecrets: false) == 1)
        // kubelet logs the argv of a call that exits non-zero: a Failure that carries secrets
        // exits 0 (still an error to kubelet, whose reply status decides).
        #expect(Reply.failure("x").exitStatus(carryingSecrets: true) == 0)
        #expect(Reply.success().exitStatus(carryingSecrets: true) == 0)
    }

    @Test func findsSecretsInRawArguments() {
        #expect(
            DriverProcess.carrySecrets([Array("mount".utf8), Array("{\"kubernetes.io/secret/key\":\"eA==\"}".utf8)]))
        #expect(DriverProcess.carrySecrets([Array("{\"a\":\"b\",\"kubernetes.io/secret/".utf8)]))
        // JSON writers may escape '/' (Foundation does); the key is the same.
        #expect(DriverProcess.carrySecrets([Array("{\"kubernetes.io\\/secret\\/k\":\"eA==\"}".utf8)]))
        #expect(DriverProcess.carrySecrets([Array("{\"kubernetes.io\\u002fsecret\\u002fk\":\"eA==\"}".utf8)]))
        #expect(!DriverProcess.carrySecrets([Array("{\"volumeID\":\"kubernetes.io-secret\"}".utf8)]))
        #expect(!DriverProcess.carrySecrets([Array("mount".utf8), Array("{\"kubernetes.io/secretx\":\"\"}".utf8)]))
        #expect(!DriverProcess.carrySecrets([[], Array("kubernetes.io/secret".utf8)]))
    }

    @Test func failureMessagesCarryTheirCause() {
        let error = FlexLVMError(.system, "open /x", cause: Errno(2))
        #expect(Reply.failure(error).message == "open /x: No such file or directory (errno 2)")
    }

    @Test func initReportsHonestCapabilities() throws {
        let reply = try ControllerAnswers(localNode: "n", attach: true).answer(.initialize)
        #expect(
            reply?.json
                == #"{"status":"Success","capabilities":{"attach":true,"selinuxRelabel":true,"supportsMetrics":true,"fsGroup":true,"requiresFSResize":true}}"#
        )
        let attachFalse = try ControllerAnswers(localNode: "n", attach: false).answer(.initialize)
        #expect(attachFalse?.capabilities?.attach == false)
    }

    @Test func answersForAnotherNodeWithoutLVM() throws {
        var options = VolumeOptions()
        options.volumeGroup = "vg"
        options.volumeID = "my-lv"
        let answers = ControllerAnswers(localNode: "node-a", attach: true)
        #expect(try answers.answer(.attach(options, node: "node-b"))?.device == "/dev/mapper/vg-my--lv")
        #expect(try answers.answer(.isAttached(options, node: "node-b"))?.attached == true)
        #expect(try answers.answer(.detach(volumeName: "pv", node: "node-b")) == .success())
        #expect(try answers.answer(.getVolumeName) == .notSupported)
        // The node's own calls need the node binary.
        #expect(try answers.answer(.attach(options, node: "node-a")) == nil)
        #expect(try answers.answer(.waitForAttach(devicePath: "", options)) == nil)
        // Invalid options fail even on the controller side.
        options.volumeID = "bad name"
        #expect(throws: FlexLVMError.self) { try answers.answer(.attach(options, node: "node-b")) }
    }
}
