import TensorCore
import XCTest

final class Im2ColTests: XCTestCase {
    let geometries: [Conv2DGeometry] = [
        Conv2DGeometry(channels: 1, height: 1, width: 1, kernel: (1, 1)),
        Conv2DGeometry(channels: 0, height: 4, width: 4, kernel: (3, 3)),
        Conv2DGeometry(channels: 2, height: 5, width: 7, kernel: (3, 3), padding: (1, 1)),
        Conv2DGeometry(channels: 3, height: 8, width: 6, kernel: (3, 2), stride: (2, 3), padding: (1, 2)),
        Conv2DGeometry(channels: 2, height: 2, width: 2, kernel: (5, 5), padding: (2, 2)),
        Conv2DGeometry(channels: 1, height: 7, width: 9, kernel: (1, 1), stride: (3, 4)),
        Conv2DGeometry(channels: 4, height: 9, width: 9, kernel: (4, 4), stride: (2, 2), padding: (1, 1)),
        Conv2DGeometry(channels: 1, height: 0, width: 3, kernel: (1, 1), padding: (1, 0)),
    ]

    /// The image value a column-matrix entry reads, or nil for padding.
    func source(_ g: Conv2DGeometry, row: Int, column: Int) -> Int? {
        let c = row / (g.kernelHeight * g.kernelWidth)
        let i = (row / g.kernelWidth) % g.kernelHeight
        let j = row % g.kernelWidth
        let oh = column / g.outputWidth, ow = column % g.outputWidth
        let ih = oh * g.strideHeight - g.paddingHeight + i
        let iw = ow * g.strideWidth - g.paddingWidth + j
        guard ih >= 0 && ih < g.height && iw >= 0 && iw < g.width else { return nil }
        return (c * g.height + ih) * g.width + iw
    }

    func testGeometry() {
        let g = geometries[3]
        XCTAssertEqual(g.outputHeight, 4)   // (8 + 2 - 3) / 2 + 1
        XCTAssertEqual(g.outputWidth, 3)    // (6 + 4 - 2) / 3 + 1
        XCTAssertEqual(g.columnRows, 18)
        XCTAssertEqual(g.columnColumns, 12)
        XCTAssertEqual(geometries[7].outputHeight, 2)
        XCTAssertEqual(geometries[7].columnCount, 6)
    }

    func testIm2colMatchesReference() {
        for g in geometries {
            var image = randomValues(g.imageCount, seed: 60)
            var columns = [Float](repeating: .nan, count: g.columnCount)
            image.withPointer { pi in columns.withPointer { Kernels.im2col(pi, geometry: g, into: $0) } }
            var expected = [Double](repeating: 0, count: g.columnCount)
            for row in 0..<g.columnRows {
                for column in 0..<g.columnColumns {
                    if let s = source(g, row: row, column: column) {
                        expected[row * g.columnColumns + column] = Double(image[s])
                    }
                }
            }
            assertClose(columns, expected, relative: 0, absolute: 0, "\(g)")
        }
    }

    func testCol2imAccumulatesReference() {
        for g in geometries {
            var columns = randomValues(g.columnCount, seed: 61)
            var image = randomValues(g.imageCount, seed: 62)
            var expected = image.map(Double.init)
            for row in 0..<g.columnRows {
                for column in 0..<g.columnColumns {
                    if let s = source(g, row: row, column: column) {
                        expected[s] += Double(columns[row * g.columnColumns + column])
                    }
                }
            }
            columns.withPointer { pc in image.withPointer { Kernels.col2im(pc, geometry: g, accumulatingInto: $0) } }
            assertClose(image, expected, relative: 1e-5, absolute: 1e-5, "\(g)")
        }
    }

    /// im2col followed by sgemm equals a direct convolution.
    func testLoweredConvolutionMatchesDirect() {
        let g = Conv2DGeometry(channels: 3, height: 9, width: 8, kernel: (3, 3), stride: (2, 1), padding: (1, 1))
        let outChannels = 5
        let image = randomValues(g.imageCount, seed: 63)
        let weight = randomValues(outChannels * g.columnRows, seed: 64)
        let columns = Tensor(zeros: [g.columnRows, g.columnColumns])
        let output = Tensor(zeros: [outChannels, g.columnColumns])
        image.withUnsafeBufferPointer { Kernels.im2col($0.baseAddress!, geometry: g, into: columns.pointer) }
        matmul(Tensor(shape: [outChannels, g.columnRows], values: weight), columns, into: output)

        var expected: [Double] = []
        for o in 0..<outChannels {
            for oh in 0..<g.outputHeight {
                for ow in 0..<g.outputWidth {
                    var total = 0.0
                    for c in 0..<g.channels {
                        for i in 0..<3 {
                            for j in 0..<3 {
                                let ih = oh * 2 - 1 + i, iw = ow - 1 + j
                                guard ih >= 0 && ih < g.height && iw >= 0 && iw < g.width else { continue }
                                total += Double(weight[((o * g.channels + c) * 3 + i) * 3 + j])
                                    * Double(image[(c * g.height + ih) * g.width + iw])
                            }
                        }
                    }
                    expected.append(total)
                }
            }
        }
        assertClose(output.array, expected, relative: 1e-4, absolute: 1e-4)
    }
}
