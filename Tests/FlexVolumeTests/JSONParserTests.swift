import FlexLVMCore
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test func parsesKubeletOptions() throws {
        let text = #"{"kubernetes.io/fsType":"","kubernetes.io/readwrite":"rw","volumeID":"vol1","a\u0026b":"\u003c"}"#
        let value = try JSONParser.parse(Array(text.utf8))
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["kubernetes.io/fsType", "kubernetes.io/readwrite", "volumeID", "a&b"])
        #expect(members[3].value == .string("<"))
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "{\"a\":1,}", "[1,2", "{\"a\":\"b\"} x", "nul", "{\"a\":01}", "{'a':1}",
        "{\"a\":\"\u{01}\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\x\"}",
    ])
    func refusesMalformed(_ text: String) {
        #expect(throws: FlexLVMError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8() {
        let bytes: [UInt8] = Array("{\"a\":\"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8)
        #expect(throws: FlexLVMError.self) { try JSONParser.parse(bytes) }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: FlexLVMError.self) { try JSONParser.parse(Array(deep.utf8)) }
    }

    @Test func boundsSize() {
        let huge = "{\"a\":\"" + String(repeating: "x", count: JSONParser.maximumSize) + "\"}"
        #expect(throws: FlexLVMError.self) { try JSONParser.parse(Array(huge.utf8)) }
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
    }

    @Test func writerEscapesLikeGo() {
        #expect(JSONWriter.string("a\"b\\c\n<>&\u{01}") == #""a\"b\\c\n\u003c\u003e\u0026\u0001""#)
    }
}
