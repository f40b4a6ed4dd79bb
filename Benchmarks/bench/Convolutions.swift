import CDNNL
import Foundation
import Strata

func ok(_ status: dnnl_status_t, line: Int = #line) {
  precondition(status == dnnl_success, "oneDNN call failed: \(status.rawValue) at line \(line)")
}

func dnnlDims(_ values: [Int]) -> [Int64] {
  values.map(Int64.init) + [Int64](repeating: 0, count: 12 - values.count)
}

func descriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
  var d = dnnl_memory_desc_t()
  ok(dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), dnnlDims(dims), dnnl_f32, tag))
  return d
}

/// oneDNN called directly, the way a hand-written program would: primitives and memories made once,
/// the weights reordered once, outside the timing. The baseline for Strata's overhead.
final class DirectConvolution {
  let engine: dnnl_engine_t, stream: dnnl_stream_t
  var primitive: dnnl_primitive_t?
  var arguments: [dnnl_exec_arg_t] = []
  var buffers: [UnsafeMutableRawPointer] = []

  init(_ g: ConvolutionGeometry, direction: String) {
    var engine: dnnl_engine_t?, stream: dnnl_stream_t?
    ok(dnnl_engine_create(&engine, dnnl_cpu, 0))
    ok(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)))
    self.engine = engine!
    self.stream = stream!
    var src = descriptor([g.batch, g.channels, g.height, g.width], dnnl_nhwc)
    var dst = descriptor([g.batch, g.filters, g.outputHeight, g.outputWidth], dnnl_nhwc)
    var weights = descriptor(
      [g.filters, g.channels, g.kernelHeight, g.kernelWidth], dnnl_format_tag_any)
    var bias = descriptor([g.filters], dnnl_a)
    let strides = dnnlDims([g.strideHeight, g.strideWidth]),
      dilates = dnnlDims([g.dilationHeight - 1, g.dilationWidth - 1])
    let left = dnnlDims([g.padTop, g.padLeft]), right = dnnlDims([g.padBottom, g.padRight])
    var forward = dnnl_convolution_desc_t()
    ok(
      dnnl_dilated_convolution_forward_desc_init(
        &forward, dnnl_forward_training, dnnl_convolution_direct, &src, &weights, &bias, &dst,
        strides, dilates, left, right))
    var forwardPD: dnnl_primitive_desc_t?
    ok(dnnl_primitive_desc_create(&forwardPD, &forward, nil, self.engine, nil))
    var pd = forwardPD
    var description = dnnl_convolution_desc_t()
    switch direction {
    case "backward-data":
      ok(
        dnnl_dilated_convolution_backward_data_desc_init(
          &description, dnnl_convolution_direct, &src, &weights, &dst, strides, dilates, left, right
        ))
      ok(dnnl_primitive_desc_create(&pd, &description, nil, self.engine, forwardPD))
    case "backward-weights":
      ok(
        dnnl_dilated_convolution_backward_weights_desc_init(
          &description, dnnl_convolution_direct, &src, &weights, &bias, &dst, strides, dilates,
          left, right))
      ok(dnnl_primitive_desc_create(&pd, &description, nil, self.engine, forwardPD))
    default: break
    }
    ok(dnnl_primitive_create(&primitive, pd))
    func memory(_ query: dnnl_query_t, _ argument: Int32) {
      var md = dnnl_primitive_desc_query_md(pd, query, 0)!.pointee
      let buffer = UnsafeMutableRawPointer.allocate(
        byteCount: max(64, dnnl_memory_desc_get_size(&md)), alignment: 64)
      buffer.initializeMemory(
        as: UInt8.self, repeating: 0x3F, count: dnnl_memory_desc_get_size(&md))  // floats of 0.747
      buffers.append(buffer)
      var mem: dnnl_memory_t?
      ok(dnnl_memory_create(&mem, &md, self.engine, buffer))
      arguments.append(dnnl_exec_arg_t(arg: argument, memory: mem))
    }
    switch direction {
    case "backward-data":
      memory(dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST);
      memory(dnnl_query_weights_md, DNNL_ARG_WEIGHTS)
      memory(dnnl_query_diff_src_md, DNNL_ARG_DIFF_SRC)
    case "backward-weights":
      memory(dnnl_query_src_md, DNNL_ARG_SRC); memory(dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST)
      memory(dnnl_query_diff_weights_md, DNNL_ARG_DIFF_WEIGHTS);
      memory(dnnl_query_diff_weights_md, DNNL_ARG_DIFF_BIAS)
      arguments[3] = dnnl_exec_arg_t(
        arg: DNNL_ARG_DIFF_BIAS,
        memory: { () -> dnnl_memory_t in
          var md = bias
          var mem: dnnl_memory_t?
          ok(dnnl_memory_create(&mem, &md, self.engine, buffers[3]))
          return mem!
        }())
    default:
      memory(dnnl_query_src_md, DNNL_ARG_SRC); memory(dnnl_query_weights_md, DNNL_ARG_WEIGHTS)
      memory(dnnl_query_dst_md, DNNL_ARG_DST)
      var md = bias
      var mem: dnnl_memory_t?
      let buffer = UnsafeMutableRawPointer.allocate(
        byteCount: max(64, g.filters * 4), alignment: 64)
      buffers.append(buffer)
      ok(dnnl_memory_create(&mem, &md, self.engine, buffer))
      arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: mem))
    }
  }

  func run() {
    ok(dnnl_primitive_execute(primitive, stream, Int32(arguments.count), &arguments))
    ok(dnnl_stream_wait(stream))
  }
}

/// The seed CNNs' convolutions and poolings.
func convolutionGeometries(quick: Bool) -> [(String, ConvolutionGeometry)] {
  // model layer, batch, square input size, channels, filters, square kernel, "same", in --quick
  let layers = [
    ("cnn conv1", 32, 28, 1, 32, 3, false, true), ("cnn conv2", 32, 13, 32, 64, 3, false, true),
    ("cnn conv3", 32, 5, 64, 64, 3, false, false), ("deep conv1", 50, 28, 1, 32, 5, true, false),
    ("deep conv2", 50, 14, 32, 64, 5, true, true),
  ]
  return layers.filter { !quick || $0.7 }.map { name, batch, size, channels, filters, k, same, _ in
    (
      "\(name) \(size)x\(size)x\(channels)->\(filters) k\(k)",
      ConvolutionGeometry(
        batch: batch, height: size, width: size, channels: channels, filters: filters,
        kernel: (k, k), strides: (1, 1), same: same)
    )
  }
}

/// Runs one direction of a convolution on `kernels` and returns what it wrote. The buffers are `Tensor`s,
/// 64-byte aligned as every layer's are (a Swift array is only 16-byte aligned, which slows oneDNN's
/// single-channel kernels down).
func runConvolution(
  _ g: ConvolutionGeometry, _ direction: String, _ kernels: any Kernels, x: Tensor, k: Tensor,
  b: Tensor, dy: Tensor,
  into reused: inout Tensor, biasGradient db: inout Tensor
) -> Tensor {
  // Outputs are reused across calls, as layers keep theirs: a fresh multi-megabyte buffer per call would
  // time page faults instead of the convolution.
  reused.reuse(shape: [
    direction == "forward"
      ? g.outputCount : direction == "backward-data" ? g.inputCount : g.kernelCount
  ])
  db.reuse(shape: [g.filters])
  var out = reused
  reused = Tensor(shape: [0])
  x.withUnsafeBufferPointer { xs in
    k.withUnsafeBufferPointer { ks in
      dy.withUnsafeBufferPointer { dys in
        out.withUnsafeMutableBufferPointer { o in
          switch direction {
          case "forward":
            b.withUnsafeBufferPointer {
              kernels.convolution(g, input: xs, kernel: ks, bias: $0, output: o)
            }
          case "backward-data":
            kernels.convolutionBackwardData(g, outputGradient: dys, kernel: ks, inputGradient: o)
          default:
            db.withUnsafeMutableBufferPointer {
              kernels.convolutionBackwardWeights(
                g, input: xs, outputGradient: dys, kernelGradient: o, biasGradient: $0)
            }
          }
        }
      }
    }
  }
  reused = out
  return out
}

func convolutionRows(_ options: Options, _ machine: Machine, runs: Int) -> [Row] {
  var rows: [Row] = []
  for (label, g) in convolutionGeometries(quick: options.quick) {
    let flops = 2.0 * Double(g.outputCount * g.kernelHeight * g.kernelWidth * g.channels)
    // Validation on the same layer with a batch of 2, where the reference loops are quick.
    var small = g
    small.batch = 2
    let sx = Tensor(randomArray(small.inputCount, seed: 21)),
      sk = Tensor(randomArray(small.kernelCount, seed: 22))
    let sb = Tensor(randomArray(g.filters, seed: 23)),
      sdy = Tensor(randomArray(small.outputCount, seed: 24))
    let x = Tensor(randomArray(g.inputCount, seed: 11)),
      k = Tensor(randomArray(g.kernelCount, seed: 12))
    let b = Tensor(randomArray(g.filters, seed: 13)),
      dy = Tensor(randomArray(g.outputCount, seed: 14))
    for backend in ["dnnl", "reference"] {
      for direction in ["forward", "backward-data", "backward-weights"] {
        let name = "conv \(label) b\(g.batch) \(direction)"
        guard options.wants(name, backend: backend) else { continue }
        if backend == "reference" && options.backend != "reference"
          && (options.quick || flops > 2e9)
        {
          continue
        }
        let kernels = kernels(backend)
        var output = Tensor(shape: [0]), biasGradient = Tensor(shape: [0])
        let seconds = measure(runs: backend == "reference" ? 1 : runs) {
          _ = runConvolution(
            g, direction, kernels, x: x, k: k, b: b, dy: dy, into: &output,
            biasGradient: &biasGradient)
        }
        var validated: Bool?
        var direct: Double?
        if backend == "dnnl" {
          var scratch = Tensor(shape: [0]), scratchBias = Tensor(shape: [0])
          let fast = runConvolution(
            small, direction, kernels, x: sx, k: sk, b: sb, dy: sdy, into: &scratch,
            biasGradient: &scratchBias)
          var scratch2 = Tensor(shape: [0])
          let slow = runConvolution(
            small, direction, ReferenceKernels(), x: sx, k: sk, b: sb, dy: sdy, into: &scratch2,
            biasGradient: &scratchBias)
          validated = zip(fast.scalars, slow.scalars).allSatisfy {
            abs($0 - $1) <= 1e-3 * max(1, abs($1))
          }
          let harness = DirectConvolution(g, direction: direction)
          direct = seconds / measure(runs: runs) { harness.run() }
        }
        rows.append(
          Row(
            name: name, backend: backend, shape: "\(g)", milliseconds: seconds * 1e3,
            rate: flops / seconds * 1e-9, unit: "GFLOP/s",
            ofPeak: flops / seconds * 1e-9
              / (machine.coreGFLOPS * Double(backend == "dnnl" ? machine.cores : 1)),
            overDirect: direct,
            validated: validated, note: nil))
      }
    }
  }
  let pools: [(String, PoolingGeometry)] = [
    (
      "cnn pool1 26x26x32 p2",
      PoolingGeometry(
        batch: 32, height: 26, width: 26, channels: 32, pool: (2, 2), strides: (2, 2), same: false)
    ),
    (
      "deep pool1 28x28x32 p2 same",
      PoolingGeometry(
        batch: 50, height: 28, width: 28, channels: 32, pool: (2, 2), strides: (2, 2), same: true)
    ),
  ]
  for (label, g) in pools {
    let x = randomArray(g.inputCount, seed: 15), dy = randomArray(g.outputCount, seed: 16)
    var outputs: [String: [Float]] = [:]
    // The SIMD backend's C loop (the cpu backend's choice) and oneDNN's primitive, each checked
    // against the reference, which runs whenever either of them does.
    let fast = ["simd", "dnnl"]
    for backend in fast + ["reference"] {
      for direction in ["forward", "backward"] {
        let name = "maxpool \(label) b\(g.batch) \(direction)"
        guard
          fast.contains(where: { options.wants(name, backend: $0) })
            || options.wants(name, backend: backend)
        else { continue }
        let kernels = kernels(backend)
        var workspace = [UInt8](repeating: 0, count: max(1, kernels.maxPoolingWorkspaceBytes(g)))
        var y = [Float](repeating: 0, count: g.outputCount),
          dx = [Float](repeating: 0, count: g.inputCount)
        x.withUnsafeBufferPointer { xs in
          workspace.withUnsafeMutableBytes { w in
            y.withUnsafeMutableBufferPointer {
              kernels.maxPooling(g, input: xs, output: $0, workspace: w)
            }
          }
        }
        let seconds = measure(runs: runs) {
          x.withUnsafeBufferPointer { xs in
            dy.withUnsafeBufferPointer { dys in
              workspace.withUnsafeMutableBytes { w in
                if direction == "forward" {
                  y.withUnsafeMutableBufferPointer {
                    kernels.maxPooling(g, input: xs, output: $0, workspace: w)
                  }
                } else {
                  dx.withUnsafeMutableBufferPointer {
                    kernels.maxPoolingBackward(
                      g, input: xs, outputGradient: dys, inputGradient: $0,
                      workspace: UnsafeRawBufferPointer(w))
                  }
                }
              }
            }
          }
        }
        outputs["\(backend) \(direction)"] = direction == "forward" ? y : dx
        guard options.wants(name, backend: backend) else { continue }
        if backend == "reference", let expected = outputs["reference \(direction)"] {
          for other in fast {
            guard let result = outputs["\(other) \(direction)"],
              let index = rows.lastIndex(where: { $0.name == name && $0.backend == other })
            else { continue }
            rows[index].validated = zip(result, expected).allSatisfy { abs($0 - $1) < 1e-5 }
          }
        }
        let bytes =
          Double(
            direction == "forward" ? g.inputCount + g.outputCount : g.inputCount + 2 * g.outputCount
          ) * 4
        rows.append(
          Row(
            name: name, backend: backend, shape: "\(g.batch)x\(g.height)x\(g.width)x\(g.channels)",
            milliseconds: seconds * 1e3,
            rate: bytes / seconds * 1e-9, unit: "GB/s",
            ofPeak: bytes / seconds * 1e-9 / machine.bandwidthGBs, overDirect: nil,
            validated: nil, note: nil))
      }
    }
  }
  return rows
}
