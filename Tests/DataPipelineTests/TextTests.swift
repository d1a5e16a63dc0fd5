import DataPipeline
import XCTest

final class TextTests: XCTestCase {
    func testVocabularyIsSortedAndRoundTrips() throws {
        let vocabulary = CharacterVocabulary(text: "hello, world\r\n")
        XCTAssertEqual(vocabulary.serialized, "\n\r ,dehlorw")
        XCTAssertEqual(vocabulary.count, 11)
        let ids = try vocabulary.encode("world\r\n")
        XCTAssertEqual(ids, [10, 8, 9, 7, 4, 1, 0])
        XCTAssertEqual(vocabulary.decode(ids), "world\r\n")
        let restored = try CharacterVocabulary(serialized: vocabulary.serialized)
        XCTAssertEqual(restored, vocabulary)
        let json = try JSONEncoder().encode(vocabulary)
        XCTAssertEqual(try JSONDecoder().decode(CharacterVocabulary.self, from: json), vocabulary)
    }

    func testVocabularyRejectsBadInput() {
        XCTAssertThrowsError(try CharacterVocabulary(serialized: "ba")) { error in
            guard case DataError.invalidVocabulary = error else { return XCTFail("\(error)") }
        }
        let vocabulary = CharacterVocabulary(text: "abc")
        assertDataError(.unknownCharacter(file: "play.txt", character: "z", offset: 2), naming: "play.txt") {
            try vocabulary.encode("abz", file: "play.txt")
        }
    }

    func testWindowsAndTargets() throws {
        // 20 characters, 10% (2) for validation; T = 4, stride 4.
        let text = "abcdefghijklmnopqrst"
        let corpus = try CharacterCorpus(text: text, contextLength: 4, validationFraction: 0.1)
        XCTAssertEqual(corpus.vocabulary.count, 20)
        XCTAssertEqual(corpus.train.tokens.count, 18)
        XCTAssertEqual(corpus.validation.tokens.count, 2)
        // Windows of 5 at 0, 4, 8, 12 fit in 18 tokens (12 + 5 = 17 <= 18).
        XCTAssertEqual(corpus.train.count, 4)
        XCTAssertEqual(corpus.validation.count, 0)
        XCTAssertEqual(corpus.train.inputShape, [4])
        XCTAssertEqual(corpus.train.targetShape, [4])
        XCTAssertEqual(corpus.train.classCount, 20)
        let sample = corpus.train.sample(3)
        XCTAssertEqual(corpus.vocabulary.decode(sample.input.map { Int($0) }), "mnop")
        XCTAssertEqual(corpus.vocabulary.decode(sample.target.map { Int($0) }), "nopq")
    }

    func testStrideAndValidationSplitAtTheEnd() throws {
        let text = String(repeating: "ab", count: 40) + "xyzxyzxyzxyzxyzxyzxy"   // 80 + 20
        let corpus = try CharacterCorpus(text: text, contextLength: 3, stride: 1, validationFraction: 0.2)
        XCTAssertEqual(corpus.train.count, 80 - 3)
        XCTAssertEqual(corpus.validation.count, 20 - 3)
        let v = corpus.validation.sample(0)
        XCTAssertEqual(corpus.vocabulary.decode(v.input.map { Int($0) }), "xyz")
        XCTAssertEqual(corpus.vocabulary.decode(v.target.map { Int($0) }), "yzx")
    }

    func testRestoredVocabularyIsUsedAndTooShortTextRejected() throws {
        let vocabulary = CharacterVocabulary(text: "abcdefgh")
        let corpus = try CharacterCorpus(text: "hgfe", contextLength: 2, validationFraction: 0, vocabulary: vocabulary)
        XCTAssertEqual(corpus.train.tokens, [7, 6, 5, 4])
        XCTAssertEqual(corpus.train.classCount, 8)
        XCTAssertThrowsError(try CharacterCorpus(text: "abc", contextLength: 8, file: "tiny.txt")) { error in
            guard case DataError.tooLittleData("tiny.txt", _) = error else { return XCTFail("\(error)") }
        }
    }

    func testLoadFromFile() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("t.txt", text: "To be, or not to be: that is the question.")
        let corpus = try CharacterCorpus.load(file: file, contextLength: 8)
        XCTAssertEqual(corpus.vocabulary, CharacterVocabulary(text: "To be, or not to be: that is the question."))
        XCTAssertGreaterThan(corpus.train.count, 0)
        let invalid = try dir.write("bin.txt", [0x66, 0xff, 0xfe])
        assertDataError(.unreadable(file: invalid, reason: "not valid UTF-8"), naming: "bin.txt") {
            try CharacterCorpus.load(file: invalid, contextLength: 1)
        }
    }
}
