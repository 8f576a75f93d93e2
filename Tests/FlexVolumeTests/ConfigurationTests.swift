import FlexLVMCore
import Testing

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
}

extension Dictionary where Key == String, Value == String {
    fileprivate func get(_ key: String) -> String? { self[key] }
}
