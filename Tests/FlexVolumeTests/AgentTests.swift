import FlexLVMCore
import Testing

@testable import Admin
@testable import FlexVolume

#if canImport(Glibc)
    import Glibc
#endif

/// The node agent's decisions: doctor's verdict, readiness, the ready file and the probe. The
/// whole agent runs from its image in scripts/test-image (ready only where the kernel has
/// device-mapper, so in the guest).
@Suite("node agent")
struct AgentTests {
    static let passingReport = #"""
        {"ok":true,"checks":[{"name":"kernel device-mapper","status":"ok","detail":"driver 4.47.0","fix":""},\#
        {"name":"lvm.conf global/use_lvmlockd","status":"warning","detail":"1","fix":"shared VGs need lvmlockd"}]}
        """#
    static let failingReport = #"""
        {"ok":false,"checks":[{"name":"kernel device-mapper","status":"fail","detail":"not available","fix":"modprobe dm-mod"},\#
        {"name":"ext4 tools","status":"ok","detail":"found","fix":""}]}
        """#

    @Test func doctorVerdicts() {
        #expect(
            DoctorVerdict(status: 0, json: Array(Self.passingReport.utf8))
                == .pass(warnings: ["lvm.conf global/use_lvmlockd: 1"]))
        #expect(
            DoctorVerdict(status: 1, json: Array(Self.failingReport.utf8))
                == .fail(["kernel device-mapper: not available (fix: modprobe dm-mod)"]))
        // No report, or one that contradicts the exit status, is no verdict.
        guard case .error = DoctorVerdict(status: 1, json: Array("Error: no such option".utf8)) else {
            Issue.record("non-JSON output must give no verdict")
            return
        }
        guard case .error = DoctorVerdict(status: 1, json: Array(Self.passingReport.utf8)) else {
            Issue.record("ok=true with exit 1 must give no verdict")
            return
        }
        guard case .error = DoctorVerdict(status: 0, json: Array(#"{"status":"Not supported"}"#.utf8)) else {
            Issue.record("a FlexVolume reply is no doctor report")
            return
        }
    }

    @Test func doctorRunsThatTimedOutOrCouldNotStartGiveNoVerdict() {
        var run = AgentChild(stdout: Array(Self.passingReport.utf8), timedOut: true, timeout: 60)
        #expect(DoctorVerdict(run) == .error("timed out after 60 s"))
        run = AgentChild(spawnError: "posix_spawn /x: No such file or directory")
        #expect(DoctorVerdict(run) == .error("could not start: posix_spawn /x: No such file or directory"))
    }

    @Test func readyOnlyWhenInstalledAndDoctorPasses() {
        #expect(AgentPass(installed: true, doctor: .pass(warnings: ["w"])).isReady)
        #expect(!AgentPass(installed: false, doctor: .pass(warnings: [])).isReady)
        #expect(!AgentPass(installed: true, doctor: .fail(["kernel device-mapper: not available"])).isReady)
        #expect(!AgentPass(installed: true, doctor: .error("timed out after 60 s")).isReady)
        #expect(!AgentPass(installed: true).isReady)  // doctor not run
        // Reconcile and metrics failures are logged, not a reason to be unready.
        #expect(AgentPass(installed: true, doctor: .pass(warnings: []), metricsWritten: false).isReady)
    }

    @Test func childrenGetPathAndTheDriversSettingsOnly() {
        let environment = AgentChild.environment([
            "PATH=/opt/flexlvm", "HOME=/root", "FLEXLVM_NODE_NAME=n1", "LVM_SYSTEM_DIR=/etc/lvm-x",
            "DM_DISABLE_UDEV=1", "KUBERNETES_SERVICE_HOST=10.0.0.1", "FLEXLVM_BROKEN",
        ])
        #expect(
            environment == [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FLEXLVM_NODE_NAME=n1",
                "LVM_SYSTEM_DIR=/etc/lvm-x", "DM_DISABLE_UDEV=1",
            ])
    }

    @Test func theReadyFileSaysReadyUntilItExpiresOrIsRemoved() throws {
        let directory = "/tmp/flexlvm-agent-test-\(getpid())/run/agent"
        defer {
            for path in [directory + "/ready", directory] { _ = try? Files.removeIfPresent(path) }
            rmdir(directory)
            rmdir(Paths.directory(of: directory))
            rmdir(Paths.directory(of: Paths.directory(of: directory)))
        }
        let path = directory + "/ready"
        let now = Int64(time(nil))
        guard case .notReady(let why) = ReadyFile.check(path, now: now) else {
            Issue.record("no file must be not ready")
            return
        }
        #expect(why.hasPrefix("no \(path): "))

        let ready = try ReadyFile(path: path)  // creates the dir
        try ready.write(expires: now + 100, driver: "/plugins/flexlvm~lvm/lvm")
        guard case .ready(let detail) = ReadyFile.check(path, now: now) else {
            Issue.record("a fresh ready file must be ready")
            return
        }
        #expect(detail.hasPrefix("driver /plugins/flexlvm~lvm/lvm, checked "))
        #expect(try Files.list(directory) == ["ready"])  // no temporary left behind
        guard case .notReady(let stale) = ReadyFile.check(path, now: now + 101) else {
            Issue.record("an expired ready file must be not ready")
            return
        }
        #expect(stale.contains("expired 1 s ago"))

        try ready.remove()
        try ready.remove()  // already gone: fine
        #expect(ReadyFile.check(path, now: now).description.hasPrefix("not ready: no "))

        try Files.writeAtomically(path, Array("ready\n".utf8))
        #expect(ReadyFile.check(path, now: now) == .notReady("\(path) has no valid expires= line"))
    }

    @Test func aRewrittenFileHasAnotherIdentity() throws {
        let path = "/tmp/flexlvm-agent-identity-\(getpid())"
        defer { _ = try? Files.removeIfPresent(path) }
        #expect(throws: FlexLVMError.self) { try FileIdentity(path) }
        try Files.writeAtomically(path, Array("a\n".utf8))
        let first = try FileIdentity(path)
        #expect(try FileIdentity(path) == first)
        try Files.writeAtomically(path, Array("a\n".utf8))
        #expect(try FileIdentity(path) != first)
    }

    @Test func theDriverFileHandsAgentToTheNodeBinary() throws {
        #expect(Invocation.adminCommands.contains("agent"))
        let driver = Paths.join(Paths.directory(of: Paths.currentExecutable()!), "flexlvm")
        let path = "/tmp/flexlvm-agent-probe-\(getpid())"
        defer { _ = try? Files.removeIfPresent(path) }
        var result = try Subprocess.run([driver, "agent", "--probe", "--ready-file", path], timeout: 30)
        #expect(result.status == 1)
        #expect(result.standardOutput.hasPrefix("not ready: no \(path): "))
        try Files.writeAtomically(path, Array("expires=\(Int64(time(nil)) + 60)\nchecked=t\ndriver=/d\n".utf8))
        result = try Subprocess.run([driver, "agent", "--probe", "--ready-file", path], timeout: 30)
        #expect(result.status == 0)
        #expect(result.standardOutput == "ready: driver /d, checked t\n")
    }
}
