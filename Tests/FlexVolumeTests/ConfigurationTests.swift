import Testing

@testable import FlexLVMCore

@Suite("configuration and node identity")
struct ConfigurationTests {
    @Test func readsTheFileAndLetsTheEnvironmentWin() throws {
        var configuration = Configuration()
        let problems = configuration.apply(
            fileContents: Array("# comment\nnodeName = node-from-file\nattach=false\nlogFile = /var/log/x.log\n".utf8),
            source: "test.conf")
        #expect(problems.isEmpty)
        #expect(configuration.nodeName == "node-from-file")
        #expect(configuration.attach == false)
        #expect(configuration.logFile == "/var/log/x.log")
        configuration.apply(environment: ["FLEXLVM_NODE_NAME": "node-from-env", "FLEXLVM_ATTACH": "true"].get)
        #expect(configuration.nodeName == "node-from-env")
        #expect(configuration.attach == true)
        #expect(NodeIdentity.localNodeName(configuration) == "node-from-env")
    }

    @Test func readsTheVolumeGroupAllowList() throws {
        var configuration = Configuration()
        configuration.apply(fileContents: Array("volumeGroups = vg1, vg-2 ,".utf8), source: "t")
        #expect(configuration.volumeGroups == ["vg1", "vg-2"])
        configuration.apply(environment: ["FLEXLVM_VOLUME_GROUPS": "other"].get)
        #expect(configuration.volumeGroups == ["other"])
    }

    @Test(arguments: ["attach = perhaps", "logFile = relative.log", "stateDir = /a/../b", "colour = blue", "novalue"])
    func reportsBadSettingsAndKeepsTheDefault(_ line: String) {
        var configuration = Configuration()
        let problems = configuration.apply(fileContents: Array(line.utf8), source: "t")
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("t:1: ") == true)
        #expect(configuration == Configuration())
        #expect(Configuration.brokenError(problems)?.description.contains("configuration is broken") == true)
    }

    /// A broken line is skipped, the good lines around it still apply (teardown calls run with
    /// them), and the problem is named.
    @Test func skipsOnlyTheBrokenLines() {
        var configuration = Configuration()
        let problems = configuration.apply(
            fileContents: Array("stateDir = /srv/flexlvm\nattach = flase\ncolour = blue\nlockDir = /run/x\n".utf8),
            source: "f")
        #expect(configuration.stateDir == "/srv/flexlvm")
        #expect(configuration.lockDir == "/run/x")
        #expect(configuration.attach == nil)
        #expect(problems.count == 2)
        #expect(problems[0].contains("f:2") && problems[0].contains("flase"))
        #expect(problems[1].contains("f:3") && problems[1].contains("colour"))
        #expect(configuration.apply(environment: ["FLEXLVM_STATE_DIR": "relative"].get).count == 1)
        #expect(configuration.stateDir == "/srv/flexlvm")
    }

    /// init's attach mode: the variable, else a valid `attach` line of the file (whatever
    /// else the file holds), else OpenShift's plugin dir, else true.
    @Test func decidesTheAttachModeFromWhatCannotBeBroken() {
        let none: (String) -> String? = { _ in nil }
        let broken = Array("attach = flase\ncolour = blue\n".utf8)
        let valid = Array("colour = blue\n# attach = true\nattach = false\n".utf8)
        let vanilla = ["/usr/libexec/kubernetes/kubelet-plugins/volume/exec/flexlvm~lvm/lvm"]
        let openShift = ["/etc/kubernetes/kubelet-plugins/volume/exec/flexlvm~lvm/lvm"]
        func mode(_ env: [String: String], _ file: [UInt8]?, _ paths: [String]) -> AttachMode {
            AttachMode.decide(
                environment: env.isEmpty ? none : env.get, configFile: file, configPath: "c", executablePaths: paths)
        }
        #expect(mode([:], nil, vanilla) == AttachMode(attach: true, reason: "default"))
        #expect(mode([:], broken, vanilla).attach == true)
        #expect(mode([:], valid, vanilla).attach == false)
        #expect(mode([:], valid, vanilla).reason.contains("in c"))
        #expect(mode([:], nil, openShift).attach == false)
        #expect(mode([:], broken, openShift).reason.contains("OpenShift"))
        #expect(mode(["FLEXLVM_ATTACH": "true"], valid, openShift).attach == true)
        #expect(mode(["FLEXLVM_ATTACH": "maybe"], nil, openShift).attach == false)
        #expect(mode(["FLEXLVM_ATTACH": "false"], nil, vanilla).reason == "FLEXLVM_ATTACH=false")
    }

    @Test func fallsBackToTheLowercasedHostName() {
        let name = NodeIdentity.localNodeName(Configuration())
        #expect(name == NodeIdentity.hostName().lowercased())
        #expect(!name.isEmpty)
    }

    @Test(arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00.000Z"), (Int64(951_782_400), 7, "2000-02-29T00:00:00.007Z"),
        (Int64(1_795_432_075), 688, "2026-11-23T11:07:55.688Z"),
        (Int64(4_107_542_399), 999, "2100-02-28T23:59:59.999Z"),
        (Int64(-1), 0, "1969-12-31T23:59:59.000Z"),
    ])
    func logTimestampsAreUTCCalendarTime(_ seconds: Int64, _ milliseconds: Int, _ expected: String) {
        #expect(Clock.timestamp(seconds: seconds, milliseconds: milliseconds) == expected)
    }
}

extension Dictionary where Key == String, Value == String {
    fileprivate func get(_ key: String) -> String? { self[key] }
}
