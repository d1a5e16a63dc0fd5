import XCTest
import TensorCore
@testable import NeuralNet

// Central finite differences in Float32.
//
// The truncation error of (L(p+e) - L(p-e)) / 2e is O(e^2), the rounding error
// is about ulp(L) / e. With Float32 losses near 1, e = 1e-2 balances the two at
// roughly 1e-4 absolute, so gradients are compared with a relative error whose
// denominator never drops below `floor`: tiny gradients are then judged in
// absolute terms and cannot fail on rounding noise alone.

/// The error measure of every check here: relative when the gradients are
/// large, absolute (scaled by `1 / floor`) when both are tiny.
func gradientError(analytic: Float, numeric: Float, floor: Float) -> Float {
    abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)
}

/// The flat indices a check perturbs: always the first and the last element,
/// plus up to `samples` others drawn deterministically.
func gradientCheckIndices(count: Int, samples: Int, seed: UInt64) -> [Int] {
    precondition(count > 0, "gradientCheckIndices: empty parameter")
    var indices = [0]
    if count > 1 { indices.append(count - 1) }
    if count <= samples + 2 { return Array(0..<count) }
    var generator = RandomGenerator(seed: seed, stream: 77)
    var chosen = Set(indices)
    while chosen.count < samples + 2 {
        let i = generator.nextIndex(below: count)
        if chosen.insert(i).inserted { indices.append(i) }
    }
    return indices
}

/// Checks a model's analytic parameter gradients of its full loss against
/// central finite differences.
///
/// Runs forward and backward once (dropout off), then for every parameter
/// perturbs its first and last element and `samples` others by ±`epsilon`
/// and compares `(L(p+e) - L(p-e)) / 2e` with the analytic gradient.
/// Also checks that backward *added* into gradients that were nonzero before.
///
/// - Parameters:
///   - model: The model, with parameters already initialized.
///   - inputs: A small batch of inputs.
///   - targets: The batch's targets.
///   - epsilon: The perturbation; 1e-2 suits Float32 losses of order 1.
///   - tolerance: The largest accepted ``gradientError(analytic:numeric:floor:)``.
///   - floor: Below this magnitude gradients are compared absolutely.
///   - samples: Elements checked per parameter besides the first and last.
func assertGradientsMatch(
    model: Model, inputs: Tensor, targets: Tensor,
    epsilon: Float = 1e-2, tolerance: Float = 2e-2, floor: Float = 1e-2,
    samples: Int = 6,
    file: StaticString = #filePath, line: UInt = #line
) {
    let wasTraining = model.isTraining
    model.isTraining = false
    defer { model.isTraining = wasTraining }

    let store = model.parameters
    // A nonzero starting gradient proves backward accumulates rather than overwrites.
    store.gradients.fill(0.25)
    _ = model.forward(inputs: inputs, targets: targets)
    var reported: [Range<Int>] = []
    model.backward { reported.append($0) }
    let analytic = store.gradients.array.map { $0 - 0.25 }
    assertRangesCover(reported, count: store.count, file: file, line: line)

    var worst: (error: Float, name: String, index: Int, analytic: Float, numeric: Float) = (0, "", 0, 0, 0)
    for (p, info) in store.parameters.enumerated() {
        for i in gradientCheckIndices(count: info.count, samples: samples, seed: UInt64(p)) {
            let flat = info.offset + i
            let saved = store.values[flat]
            store.values[flat] = saved + epsilon
            let plus = model.forward(inputs: inputs, targets: targets).loss
            store.values[flat] = saved - epsilon
            let minus = model.forward(inputs: inputs, targets: targets).loss
            store.values[flat] = saved
            let numeric = (plus - minus) / (2 * epsilon)
            let error = gradientError(analytic: analytic[flat], numeric: numeric, floor: floor)
            if error > worst.error { worst = (error, info.name, i, analytic[flat], numeric) }
            if error > tolerance {
                XCTFail("gradient of \(info.name)[\(i)]: analytic \(analytic[flat]), numeric \(numeric), error \(error) > \(tolerance)",
                        file: file, line: line)
            }
        }
    }
    _ = worst  // Kept for debugging: print(worst) when tuning a tolerance.
}

/// Checks that reported gradient ranges are contiguous, increasing, and cover `0..<count`.
func assertRangesCover(_ ranges: [Range<Int>], count: Int,
                       file: StaticString = #filePath, line: UInt = #line) {
    var next = 0
    for range in ranges {
        XCTAssertFalse(range.isEmpty, "empty gradient range reported", file: file, line: line)
        XCTAssertEqual(range.lowerBound, next, "gradient ranges not contiguous: \(ranges)", file: file, line: line)
        next = range.upperBound
    }
    XCTAssertEqual(next, count, "gradient ranges \(ranges) do not cover 0..<\(count)", file: file, line: line)
}

/// Checks a layer's input gradient and any parameter gradients against finite
/// differences of the scalar `L = sum(output * probe)`, whose output gradient
/// is the fixed random `probe`.
///
/// - Parameters:
///   - input: The input to perturb (its elements are changed and restored).
///   - parameters: Value and gradient tensors of the layer's parameters; the
///     gradients must be zero before the call (backward adds into them).
///   - forward: Runs the layer on the input and returns its output.
///   - backward: Given the output gradient, returns the input gradient
///     (or nil for a layer that does not propagate one).
func assertLayerGradientsMatch(
    input: Tensor,
    parameters: [(name: String, value: Tensor, gradient: Tensor)] = [],
    epsilon: Float = 1e-2, tolerance: Float = 2e-2, floor: Float = 1e-2,
    samples: Int = 12,
    forward: (Tensor) -> Tensor,
    backward: (Tensor) -> Tensor?,
    file: StaticString = #filePath, line: UInt = #line
) {
    let output = forward(input)
    var generator = RandomGenerator(seed: 5, stream: 9)
    let probe = Tensor(shape: output.shape, values: (0..<output.count).map { _ in generator.nextNormal() })
    func loss() -> Float {
        let out = forward(input)
        var sum: Double = 0
        for i in 0..<out.count { sum += Double(out.pointer[i]) * Double(probe.pointer[i]) }
        return Float(sum)
    }
    _ = forward(input)
    let inputGradient = backward(probe)?.clone()
    let parameterGradients = parameters.map { $0.gradient.clone() }

    func check(_ name: String, _ tensor: Tensor, _ analytic: Tensor, seed: UInt64) {
        XCTAssertEqual(analytic.count, tensor.count, "\(name): gradient size", file: file, line: line)
        for i in gradientCheckIndices(count: tensor.count, samples: samples, seed: seed) {
            let saved = tensor[i]
            tensor[i] = saved + epsilon
            let plus = loss()
            tensor[i] = saved - epsilon
            let minus = loss()
            tensor[i] = saved
            let numeric = (plus - minus) / (2 * epsilon)
            let error = gradientError(analytic: analytic[i], numeric: numeric, floor: floor)
            if error > tolerance {
                XCTFail("gradient of \(name)[\(i)]: analytic \(analytic[i]), numeric \(numeric), error \(error) > \(tolerance)",
                        file: file, line: line)
            }
        }
    }
    if let inputGradient {
        check("input", input, inputGradient, seed: 1)
    }
    for (k, parameter) in parameters.enumerated() {
        check(parameter.name, parameter.value, parameterGradients[k], seed: UInt64(k + 2))
    }
}

/// A tensor of `shape` with normal values scaled by `scale`, from `seed`.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = RandomGenerator(seed: seed, stream: 3)
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, values: (0..<count).map { _ in scale * generator.nextNormal() })
}

/// Fits `model` to one batch with `steps` plain gradient-descent steps.
///
/// - Returns: The loss of the first forward pass and of the last step's.
func fitWithGradientDescent(_ model: Model, inputs: Tensor, targets: Tensor, steps: Int,
                            learningRate: Float) -> (first: LossResult, last: LossResult) {
    let first = model.forward(inputs: inputs, targets: targets)
    var last = first
    for _ in 0..<steps {
        model.parameters.zeroGradients()
        last = model.forward(inputs: inputs, targets: targets)
        model.backward(gradientsReady: nil)
        let p = model.parameters.values.pointer, g = model.parameters.gradients.pointer
        for i in 0..<model.parameters.count { p[i] -= learningRate * g[i] }
    }
    return (first, last)
}
