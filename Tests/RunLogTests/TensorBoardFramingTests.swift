import DDPTestSupport
import Foundation
@testable import RunLog
import XCTest
import _ProtobufWire

/// CRC-32C, TFRecord framing and the hand-encoded `Event` bytes, checked without Python.
final class TensorBoardFramingTests: XCTestCase {
    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum("123456789".utf8), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI) B.4 test vectors.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
    }

    func testMaskRotatesAndAddsTheConstant() {
        let crc = CRC32C.checksum("123456789".utf8)
        XCTAssertEqual(CRC32C.masked("123456789".utf8), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked([UInt8]()), 0xA282_EAD8, "the CRC of nothing is 0, so the mask is the constant")
    }

    func testFramingLayoutAndRoundTrip() throws {
        let payload: [UInt8] = Array("hello".utf8)
        var framed: [UInt8] = []
        TFRecord.append(payload, to: &framed)
        XCTAssertEqual(framed.count, payload.count + TFRecord.overhead)
        XCTAssertEqual(Array(framed[0..<8]), [5, 0, 0, 0, 0, 0, 0, 0], "length is a little-endian uint64")
        let lengthCRC = CRC32C.masked(framed[0..<8])
        XCTAssertEqual(Array(framed[8..<12]), withUnsafeBytes(of: lengthCRC.littleEndian, Array.init))
        XCTAssertEqual(Array(framed[12..<17]), payload)
        XCTAssertEqual(Array(framed[17..<21]), withUnsafeBytes(of: CRC32C.masked(payload).littleEndian, Array.init))

        TFRecord.append([], to: &framed)
        XCTAssertEqual(try TFRecord.records(in: framed), [payload, []])
    }

    func testCorruptionIsDetected() {
        var framed: [UInt8] = []
        TFRecord.append(Array("scalar".utf8), to: &framed)
        var flipped = framed
        flipped[13] ^= 0x01
        XCTAssertThrowsError(try TFRecord.records(in: flipped)) { error in
            XCTAssertEqual(error as? TFRecordError, .badChecksum(offset: 0, what: "data"))
        }
        var badLength = framed
        badLength[0] ^= 0x02
        XCTAssertThrowsError(try TFRecord.records(in: badLength)) { error in
            XCTAssertEqual(error as? TFRecordError, .badChecksum(offset: 0, what: "length"))
        }
        XCTAssertThrowsError(try TFRecord.records(in: Array(framed.dropLast(2)))) { error in
            XCTAssertEqual(error as? TFRecordError, .truncated(offset: 0))
        }
    }

    func testEventBytesMatchTheProtobufWireFormat() throws {
        let directory = try observeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try TensorBoardEventWriter(directory: directory, wallTime: 1_700_000_000.5, hostname: "node1")
        XCTAssertEqual(writer.url.lastPathComponent, "events.out.tfevents.1700000000.node1")
        try writer.writeScalars([("a", 1.5)], step: 300, wallTime: 2.0)

        let records = try TFRecord.records(in: Array(try Data(contentsOf: writer.url)))
        XCTAssertEqual(records.count, 2)
        let version: [UInt8] = [0x09] + le(1_700_000_000.5.bitPattern) + [0x10, 0x00, 0x1A, 13] + Array("brain.Event:2".utf8)
        XCTAssertEqual(records[0], version)
        // Value{tag "a", simple_value 1.5} inside Summary{value} inside Event{summary = 5}.
        let value: [UInt8] = [0x0A, 1, UInt8(ascii: "a"), 0x15] + le(Float(1.5).bitPattern)
        let summary: [UInt8] = [0x0A, UInt8(value.count)] + value
        let scalar: [UInt8] = [0x09] + le(2.0.bitPattern) + [0x10, 0xAC, 0x02, 0x2A, UInt8(summary.count)] + summary
        XCTAssertEqual(records[1], scalar, "step 300 is the varint AC 02")
    }

    func testNegativeStepIsATenByteVarint() {
        var encoder = ProtobufEncoder()
        encoder.appendInt64(field: 2, -1)
        XCTAssertEqual(encoder.bytes, [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testMetricsRecordsMapToTags() throws {
        let train: [(String, MetricValue)] = [("kind", .string("train")), ("step", .int(50)), ("epoch", .double(0.1)),
                                              ("loss", .double(0.8)), ("accuracy", .double(0.75)), ("lr", .double(0.05)),
                                              ("samples_per_second", .double(6480)), ("elapsed", .double(1))]
        let mapped = try XCTUnwrap(TensorBoardScalars.scalars(of: train))
        XCTAssertEqual(mapped.step, 50)
        XCTAssertEqual(mapped.scalars.map(\.tag), ["train/loss", "train/accuracy", "train/lr", "train/samples_per_second"])
        XCTAssertEqual(mapped.scalars.map(\.value), [0.8, 0.75, 0.05, 6480])

        let eval: [(String, MetricValue)] = [("kind", .string("eval")), ("split", .string("test")), ("step", .int(468)),
                                             ("loss", .double(1.2)), ("perplexity", .double(3.3)), ("samples", .int(100))]
        let evalMapped = try XCTUnwrap(TensorBoardScalars.scalars(of: eval))
        XCTAssertEqual(evalMapped.scalars.map(\.tag), ["eval/test/loss", "eval/test/perplexity"])

        let nonFinite: [(String, MetricValue)] = [("kind", .string("train")), ("step", .int(1)), ("loss", .double(.nan))]
        XCTAssertNil(TensorBoardScalars.scalars(of: nonFinite), "a NaN is left out, and then nothing is left")
        XCTAssertNil(TensorBoardScalars.scalars(of: [("kind", .string("note")), ("step", .int(1)), ("loss", .double(1))]))
    }

    private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian, Array.init)
    }
}
