import FlexLVMCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built driver file and checks its exact output and exit status, as kubelet sees
/// them (stdout and stderr together).
@Suite("driver binary golden output")
struct GoldenTests {
    static var driver: String { Paths.join(Paths.directory(of: Paths.currentExecutable()!), "flexlvm") }

    func run(_ arguments: [String]) throws -> (output: String, stderr: String, status: Int32) {
        let environment = [
            "FLEXLVM_NODE_NAME=node-a", "FLEXLVM_LOG=/tmp/flexlvm-golden-\(getpid()).log",
            "FLEXLVM_CONFIG=/dev/null", "PATH=/usr/bin:/bin",
        ]
        let result = try Subprocess.run([Self.driver] + arguments, environment: environment, timeout: 30)
        return (result.standardOutput, result.standardError, result.status)
    }

    @Test func initPrintsOneObjectAndNothingElse() throws {
        let (output, stderr, status) = try run(["init"])
        #expect(
            output
                == #"{"status":"Success","capabilities":{"attach":true,"selinuxRelabel":true,"supportsMetrics":true,"fsGroup":true,"requiresFSResize":true}}"#
                + "\n")
        #expect(stderr.isEmpty)
        #expect(status == 0)
    }

    @Test(arguments: [
        (["getvolumename", "{}"], #"{"status":"Not supported"}"#, Int32(0)),
        (["waitfordetach", "/dev/x"], #"{"status":"Not supported"}"#, 0),
        ([], #"{"status":"Failure","message":"usage: no operation given"}"#, 1),
        (["init", "x"], #"{"status":"Failure","message":"init takes 0 arguments (init), got 1"}"#, 1),
        (
            ["attach", #"{"volumegroup":"vg","volumeID":"lv-1"}"#, "node-b"],
            #"{"status":"Success","device":"/dev/mapper/vg-lv--1"}"#, 0
        ),
        (
            ["isattached", #"{"volumegroup":"vg","volumeID":"lv"}"#, "node-b"],
            #"{"status":"Success","attached":true}"#,
            0
        ),
        (["detach", "pv-1", "node-b"], #"{"status":"Success"}"#, 0),
        (
            ["attach", "{not json", "node-b"],
            #"{"status":"Failure","message":"attach: the options argument is not valid JSON: invalid JSON at byte 1: expected a string key"}"#,
            1
        ),
        (
            ["attach", #"{"volumegroup":"vg","volumeID":"$(reboot)"}"#, "node-b"],
            #"{"status":"Failure","message":"option volumeID '$(reboot)' is not a valid LVM name: only letters, digits and + _ . - are allowed"}"#,
            1
        ),
    ])
    func exactReplies(arguments: [String], expected: String, expectedStatus: Int32) throws {
        let (output, stderr, status) = try run(arguments)
        #expect(output == expected + "\n")
        #expect(stderr.isEmpty)
        #expect(status == expectedStatus)
    }
}
