import XCTest
import TensorCore
@testable import NeuralNet

#if canImport(Glibc)
import Glibc
#endif

/// Finite-difference and hand-computed checks of each GPT kernel on its own.
final class GPTKernelTests: XCTestCase {
    func testFastExpMatchesLibm() {
        var worst: Float = 0
        var x: Float = -80
        while x < 80 {
            let exact = Float(exp(Double(x)))
            worst = max(worst, abs(Kernels.fastExp(x) - exact) / exact)
            x += 0.0137
        }
        XCTAssertLessThan(worst, 1e-6)
        XCTAssertEqual(Kernels.fastExp(0), 1)
        XCTAssertEqual(Kernels.fastExp(-1000), 0, accuracy: 1e-37)
    }

    /// Widths below and above the 16-lane SIMD reductions, with a ragged tail.
    func testLayerNormGradients() {
        for channels in [5, 37] { checkLayerNormGradients(channels: channels) }
    }

    func checkLayerNormGradients(channels: Int) {
        let rows = 3
        let input = randomTensor([rows, channels], seed: 1, scale: 2)
        let weight = randomTensor([channels], seed: 2)
        let bias = randomTensor([channels], seed: 3)
        let dweight = Tensor(zeros: [channels]), dbias = Tensor(zeros: [channels])
        let out = Tensor(zeros: [rows, channels])
        let mean = Tensor(zeros: [rows]), rstd = Tensor(zeros: [rows])
        assertLayerGradientsMatch(
            input: input,
            parameters: [("weight", weight, dweight), ("bias", bias, dbias)],
            forward: { x in
                GPTKernels.layerNormForward(out: out.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                            input: x.pointer, weight: weight.pointer, bias: bias.pointer,
                                            rows: rows, channels: channels)
                return out
            },
            backward: { dout in
                let dinput = Tensor(zeros: [rows, channels])
                GPTKernels.layerNormBackward(dinput: dinput.pointer, dweight: dweight.pointer, dbias: dbias.pointer,
                                             dout: dout.pointer, input: input.pointer, weight: weight.pointer,
                                             mean: mean.pointer, rstd: rstd.pointer, rows: rows, channels: channels)
                return dinput
            })
    }

    func testLayerNormNormalizesRows() {
        let input = Tensor(shape: [1, 4], values: [1, 2, 3, 4])
        let out = Tensor(zeros: [1, 4]), mean = Tensor(zeros: [1]), rstd = Tensor(zeros: [1])
        let ones = Tensor(repeating: 1, shape: [4]), zeros = Tensor(zeros: [4])
        GPTKernels.layerNormForward(out: out.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                    input: input.pointer, weight: ones.pointer, bias: zeros.pointer,
                                    rows: 1, channels: 4)
        // Mean 2.5, variance 1.25.
        XCTAssertEqual(mean[0], 2.5)
        let s = 1 / (1.25 + GPTKernels.layerNormEpsilon).squareRoot()
        XCTAssertEqual(rstd[0], s, accuracy: 1e-6)
        for (i, x) in [Float(1), 2, 3, 4].enumerated() {
            XCTAssertEqual(out[i], (x - 2.5) * s, accuracy: 1e-6)
        }
    }

    func testLinearGradients() {
        let rows = 4, inC = 3, outC = 5
        let input = randomTensor([rows, inC], seed: 4)
        let weight = randomTensor([outC, inC], seed: 5)
        let bias = randomTensor([outC], seed: 6)
        let dweight = Tensor(zeros: [outC, inC]), dbias = Tensor(zeros: [outC])
        let out = Tensor(zeros: [rows, outC])
        assertLayerGradientsMatch(
            input: input,
            parameters: [("weight", weight, dweight), ("bias", bias, dbias)],
            forward: { x in
                Kernels.linearForward(out: out.pointer, input: x.pointer, weight: weight.pointer,
                                         bias: bias.pointer, rows: rows, inChannels: inC, outChannels: outC)
                return out
            },
            backward: { dout in
                let dinput = Tensor(zeros: [rows, inC])
                Kernels.linearBackward(dinput: dinput.pointer, dweight: dweight.pointer, dbias: dbias.pointer,
                                          dout: dout.pointer, input: input.pointer, weight: weight.pointer,
                                          rows: rows, inChannels: inC, outChannels: outC)
                return dinput
            })
    }

    /// Sequences shorter and longer than the 16-lane softmax reductions.
    func testAttentionGradients() {
        checkAttentionGradients(time: 4, channels: 6, heads: 2)
        checkAttentionGradients(time: 37, channels: 4, heads: 2)
        // Past one block of attentionBlock rows, into a partial second block.
        checkAttentionGradients(time: 70, channels: 4, heads: 2)
    }

    func checkAttentionGradients(time: Int, channels: Int, heads: Int) {
        let batch = 2
        let qkv = randomTensor([batch, time, 3 * channels], seed: 7)
        let out = Tensor(zeros: [batch, time, channels])
        let att = Tensor(zeros: [batch, heads, time, time])
        let scratch = Tensor(zeros: [time, time])
        assertLayerGradientsMatch(
            input: qkv, samples: 40,
            forward: { x in
                GPTKernels.attentionForward(out: out.pointer, att: att.pointer, qkv: x.pointer,
                                            batch: batch, time: time, channels: channels, heads: heads)
                return out
            },
            backward: { dout in
                let dqkv = Tensor(repeating: .nan, shape: [batch, time, 3 * channels])
                GPTKernels.attentionBackward(dqkv: dqkv.pointer, scratch: scratch.pointer, dout: dout.pointer,
                                             qkv: qkv.pointer, att: att.pointer,
                                             batch: batch, time: time, channels: channels, heads: heads)
                return dqkv
            })
    }

    /// With one position, softmax is 1 and each head's output is its value slice.
    func testAttentionOfOnePositionIsTheValues() {
        let channels = 4, heads = 2
        let qkv = randomTensor([3, 1, 3 * channels], seed: 8)
        let out = Tensor(zeros: [3, 1, channels]), att = Tensor(zeros: [3, heads, 1, 1])
        GPTKernels.attentionForward(out: out.pointer, att: att.pointer, qkv: qkv.pointer,
                                    batch: 3, time: 1, channels: channels, heads: heads)
        for b in 0..<3 {
            for c in 0..<channels {
                XCTAssertEqual(out[b * channels + c], qkv[b * 3 * channels + 2 * channels + c])
            }
        }
        XCTAssertEqual(att.array, [1, 1, 1, 1, 1, 1])
    }

    /// Forward against a direct, loop-by-loop evaluation of the definition.
    func testAttentionMatchesReference() {
        checkAttentionAgainstReference(time: 5, channels: 6, heads: 3)
        checkAttentionAgainstReference(time: 70, channels: 4, heads: 2)
    }

    func checkAttentionAgainstReference(time: Int, channels: Int, heads: Int) {
        let batch = 2
        let hs = channels / heads
        let qkv = randomTensor([batch, time, 3 * channels], seed: 9)
        let out = Tensor(zeros: [batch, time, channels]), att = Tensor(zeros: [batch, heads, time, time])
        GPTKernels.attentionForward(out: out.pointer, att: att.pointer, qkv: qkv.pointer,
                                    batch: batch, time: time, channels: channels, heads: heads)
        func at(_ b: Int, _ t: Int, _ part: Int, _ h: Int, _ i: Int) -> Double {
            Double(qkv[(b * time + t) * 3 * channels + part * channels + h * hs + i])
        }
        for b in 0..<batch {
            for h in 0..<heads {
                for t in 0..<time {
                    var scores: [Double] = []
                    for s in 0...t {
                        var dot = 0.0
                        for i in 0..<hs { dot += at(b, t, 0, h, i) * at(b, s, 1, h, i) }
                        scores.append(dot / Double(hs).squareRoot())
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let total = e.reduce(0, +)
                    for s in 0..<time {
                        let expected = s <= t ? e[s] / total : 0
                        XCTAssertEqual(Double(att[((b * heads + h) * time + t) * time + s]), expected, accuracy: 1e-6)
                    }
                    for i in 0..<hs {
                        var y = 0.0
                        for s in 0...t { y += e[s] / total * at(b, s, 2, h, i) }
                        XCTAssertEqual(Double(out[(b * time + t) * channels + h * hs + i]), y, accuracy: 1e-5)
                    }
                }
            }
        }
    }

    func testGELUValuesAndGradients() {
        let input = Tensor(shape: [8], values: [-6, -2, -1, -0.3, 0, 0.5, 1.5, 5])
        let out = Tensor(zeros: [8])
        Kernels.geluForward(out: out.pointer, input: input.pointer, count: 8)
        for i in 0..<8 {
            let x = Double(input[i])
            let expected = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            XCTAssertEqual(Double(out[i]), expected, accuracy: 1e-6)
        }
        let wide = randomTensor([20], seed: 10, scale: 2)
        let wideOut = Tensor(zeros: [20])
        assertLayerGradientsMatch(
            input: wide,
            forward: { x in
                Kernels.geluForward(out: wideOut.pointer, input: x.pointer, count: 20)
                return wideOut
            },
            backward: { dout in
                // In place, as the model runs it.
                let d = dout.clone()
                Kernels.geluBackward(dinput: d.pointer, input: wide.pointer, dout: d.pointer, count: 20)
                return d
            })
    }

    /// The fused bias and GELU of the GPT's MLP: its activation and its
    /// derivative against finite differences, the bias included.
    func testBiasGELUGradients() {
        let rows = 3, columns = 8
        let input = randomTensor([rows, columns], seed: 31, scale: 2)
        let bias = randomTensor([columns], seed: 32), biasGradient = Tensor(zeros: [columns])
        let out = Tensor(zeros: [rows, columns]), derivative = Tensor(zeros: [rows, columns])
        assertLayerGradientsMatch(
            input: input, parameters: [("bias", bias, biasGradient)],
            forward: { x in
                derivative.copy(from: x)
                GPTKernels.biasGELUForward(out: out.pointer, values: derivative.pointer, bias: bias.pointer,
                                           rows: rows, columns: columns)
                return out
            },
            backward: { dout in
                let d = dout.clone()
                GPTKernels.biasGELUBackward(gradient: d.pointer, derivative: derivative.pointer, count: d.count)
                biasGradient.fill(0)
                Kernels.accumulateColumnSums(of: d.pointer, rows: rows, columns: columns, into: biasGradient.pointer)
                return d
            })
        // The activation is GELU of the biased input (forward again: the
        // check left the output of a perturbed input).
        derivative.copy(from: input)
        GPTKernels.biasGELUForward(out: out.pointer, values: derivative.pointer, bias: bias.pointer, rows: rows, columns: columns)
        for i in 0..<(rows * columns) {
            XCTAssertEqual(out[i], Kernels.gelu(input[i] + bias[i % columns]), accuracy: 1e-5)
        }
    }

    /// In place, the kernels run loops of their own (the vectorizer's overlap
    /// check fails on an exactly aliased output); those must give the same bits.
    func testInPlaceLoopsMatchSeparateBuffers() {
        let count = 1000
        let x = randomTensor([count], seed: 21, scale: 3), dout = randomTensor([count], seed: 22)
        let separate = Tensor(zeros: [count]), inPlace = x.clone()
        Kernels.geluForward(out: separate.pointer, input: x.pointer, count: count)
        Kernels.geluForward(out: inPlace.pointer, input: inPlace.pointer, count: count)
        XCTAssertEqual(separate.array, inPlace.array)

        let gradient = Tensor(zeros: [count]), gradientInPlace = dout.clone()
        Kernels.geluBackward(dinput: gradient.pointer, input: x.pointer, dout: dout.pointer, count: count)
        Kernels.geluBackward(dinput: gradientInPlace.pointer, input: x.pointer, dout: gradientInPlace.pointer, count: count)
        XCTAssertEqual(gradient.array, gradientInPlace.array)

        let probabilities = Tensor(zeros: [count]), probabilitiesInPlace = x.clone()
        let n1 = Kernels.softmaxRow(x.pointer, into: probabilities.pointer, count: count)
        let n2 = Kernels.softmaxRow(probabilitiesInPlace.pointer, into: probabilitiesInPlace.pointer, count: count)
        XCTAssertEqual(n1, n2)
        XCTAssertEqual(probabilities.array, probabilitiesInPlace.array)
    }

    func testEncoderGradients() {
        let batch = 2, time = 3, channels = 4, vocab = 5
        let tokens: [Int32] = [4, 0, 4, 2, 2, 1]
        let wte = randomTensor([vocab, channels], seed: 11)
        let wpe = randomTensor([time, channels], seed: 12)
        let dwte = Tensor(zeros: [vocab, channels]), dwpe = Tensor(zeros: [time, channels])
        let out = Tensor(zeros: [batch, time, channels])
        tokens.withUnsafeBufferPointer { ids in
            assertLayerGradientsMatch(
                input: wte, parameters: [("wpe", wpe, dwpe)], samples: 20,
                forward: { table in
                    GPTKernels.encoderForward(out: out.pointer, tokens: ids.baseAddress!, wte: table.pointer,
                                              wpe: wpe.pointer, batch: batch, time: time, channels: channels)
                    return out
                },
                backward: { dout in
                    GPTKernels.encoderBackward(dwte: dwte.pointer, dwpe: dwpe.pointer, dout: dout.pointer,
                                               tokens: ids.baseAddress!, batch: batch, time: time, channels: channels)
                    return dwte
                })
        }
        // Token 3 never occurs, so its row gets no gradient.
        XCTAssertEqual(Array(dwte.array[12..<16]), [0, 0, 0, 0])
    }

    func testCrossEntropyValuesIgnoreIndexAndArgmax() {
        let logits = Tensor(shape: [3, 2], values: [0, 0, 1, 3, 5, 0])
        let targets: [Int32] = [0, 0, -1]
        let sums = targets.withUnsafeBufferPointer {
            GPTKernels.crossEntropyForward(probabilities: logits.pointer, targets: $0.baseAddress!, rows: 3, vocab: 2)
        }
        XCTAssertEqual(sums.count, 2)
        // Row 0 ties (argmax takes the first), row 1 misses, row 2 is ignored.
        XCTAssertEqual(sums.correct, 1)
        XCTAssertEqual(sums.loss, log(2.0) + log(1 + exp(2.0)), accuracy: 1e-5)
        XCTAssertEqual(logits[0], 0.5, accuracy: 1e-6)
        targets.withUnsafeBufferPointer {
            GPTKernels.crossEntropyBackward(probabilities: logits.pointer, targets: $0.baseAddress!,
                                            rows: 3, vocab: 2, scale: 0.5)
        }
        XCTAssertEqual(logits[0], -0.25, accuracy: 1e-6)
        XCTAssertEqual(logits[1], 0.25, accuracy: 1e-6)
        XCTAssertEqual(Array(logits.array[4...]), [0, 0])
    }

    func testCrossEntropyGradients() {
        for vocab in [6, 41] { checkCrossEntropyGradients(vocab: vocab) }
    }

    func checkCrossEntropyGradients(vocab: Int) {
        let rows = 4
        let targets: [Int32] = [3, -1, 0, 5]
        let logits = randomTensor([rows, vocab], seed: 13, scale: 2)
        let work = Tensor(zeros: [rows, vocab])
        targets.withUnsafeBufferPointer { ids in
            assertLayerGradientsMatch(
                input: logits, samples: 24,
                forward: { x in
                    work.copy(from: x)
                    let sums = GPTKernels.crossEntropyForward(probabilities: work.pointer, targets: ids.baseAddress!,
                                                              rows: rows, vocab: vocab)
                    return Tensor(shape: [1], values: [Float(sums.loss) / Float(sums.count)])
                },
                backward: { dout in
                    GPTKernels.crossEntropyBackward(probabilities: work.pointer, targets: ids.baseAddress!,
                                                    rows: rows, vocab: vocab, scale: dout[0] / 3)
                    return work.clone()
                })
        }
    }

    func testDropoutMasksAndScales() {
        let count = 4000
        let values = Tensor(repeating: 1, shape: [count]), mask = Tensor(zeros: [count])
        var generator = RandomGenerator(seed: 3)
        GPTKernels.dropoutForward(values: values.pointer, mask: mask.pointer, count: count,
                                  probability: 0.25, generator: &generator)
        let zeros = values.array.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(count), 0.25, accuracy: 0.03)
        XCTAssertTrue(values.array.allSatisfy { $0 == 0 || abs($0 - 4.0 / 3.0) < 1e-6 })
        XCTAssertEqual(values.array, mask.array)
        let d = Tensor(repeating: 2, shape: [count])
        GPTKernels.dropoutBackward(dinput: d.pointer, dout: d.pointer, mask: mask.pointer, count: count)
        XCTAssertEqual(d.array, mask.array.map { 2 * $0 })
    }
}
