import Testing

@testable import FlexLVMCore

@Suite("configuration and node identity")
struct ConfigurationTests {
    @Test func readsTheFileAndLetsTheEnvironmentWin() throws {
        var configuration = Configuration()
        try configuration.apply(
            fileContents: Array("# comment\nnodeName = node-from-file\nattach=false\nlogFile = /var/log/x.log\n".utf8),
            source: "test.conf")
        #expect(configuration.nodeName == "node-from-file")
        #expect(configuration.attach == false)
        #expect(configuration.logFile == "/var/log/x.log")
        try configuration.apply(environment: ["FLEXLVM_NODE_NAME": "node-from-env", "FLEXLVM_ATTACH": "true"].get)
        #expect(configuration.nodeName == "node-from-env")
        #expect(configuration.attach == true)
        #expect(NodeIdentity.localNodeName(configuration) == "node-from-env")
    }

    @Test func readsTheVolumeGroupAllowList() throws {
        var configuration = Configuration()
        try configuration.apply(fileContents: Array("volumeGroups = vg1, vg-2 ,".utf8), source: "t")
        #expect(configuration.volumeGroups == ["vg1", "vg-2"])
        try configuration.apply(environment: ["FLEXLVM_VOLUME_GROUPS": "other"].get)
        #expect(configuration.volumeGroups == ["other"])
    }

    @Test(arguments: ["attach = perhaps", "logFile = relative.log", "stateDir = /a/../b", "colour = blue", "novalue"])
    func refusesBadSettings(_ line: String) {
        var configuration = Configuration()
        #expect(throws: FlexLVMError.self) { try configuration.apply(fileContents: Array(line.utf8), source: "t") }
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
