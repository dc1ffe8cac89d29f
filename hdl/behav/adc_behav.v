// Behavioural sample-and-hold ADC: real voltage -> code (not synthesizable).
//
// The sample-and-hold takes its sample at the rising edge of `sample` (the analog bridge
// writes `vin` at that instant and holds it).  After CONV_NS the converter latches `vin` at
// the next rising clock edge, drives `code` and pulses `valid` for one clock.
//   unipolar (BIPOLAR = 0): code = round(v * 2**BITS / FS_V), clipped to 0 .. 2**BITS-1
//   bipolar  (BIPOLAR = 1): code = round(v * 2**(BITS-1) / FS_V) + 2**(BITS-1) (offset binary),
//                           clipped to 0 .. 2**BITS-1 (input range -FS_V .. FS_V)
// Rounding is to nearest, halves up (floor(x + 0.5)).
`timescale 1ns / 1ps

module adc_behav #(
    parameter integer BITS = 12,
    parameter real FS_V = 1.0,
    parameter integer BIPOLAR = 0,
    parameter real CONV_NS = 1000.0
) (
    input wire clk,
    input wire sample,
    input real vin,
    output reg [BITS-1:0] code,
    output reg valid
);
  real t_rise_ns;
  reg converting;
  initial begin
    code = {BITS{1'b0}};
    valid = 1'b0;
    converting = 1'b0;
    t_rise_ns = 0.0;
  end

  function [BITS-1:0] quantize(input real v);
    real x;
    real top;
    /* verilator lint_off UNUSEDSIGNAL */  // clipped to 0 .. 2**BITS-1 above: high bits 0
    integer q;
    /* verilator lint_on UNUSEDSIGNAL */
    begin
      top = (2.0 ** BITS) - 1.0;
      if (BIPOLAR != 0) x = v * (2.0 ** (BITS - 1)) / FS_V + (2.0 ** (BITS - 1));
      else x = v * (2.0 ** BITS) / FS_V;
      x = $floor(x + 0.5);
      if (x < 0.0) x = 0.0;
      if (x > top) x = top;
      q = $rtoi(x);
      quantize = q[BITS-1:0];
    end
  endfunction

  // Blocking assignments on purpose: `converting` is shared by the two processes and the
  // converter must see the sample-edge's update in the same time step (behavioural model).
  /* verilator lint_off BLKSEQ */
  always @(posedge sample) begin
    t_rise_ns = $realtime;
    converting = 1'b1;
  end

  // The converter wakes on clock edges only from a sample edge to the clock after its result
  // (when `valid` drops), not at every clock: 27 clocked ADC processes cost a fifth of an
  // idle clock of a 64-16-10 harness in Icarus.  At each of these clock edges it does what a
  // plain `always @(posedge clk)` would: `valid` for one clock, the code latched at the first
  // clock edge >= CONV_NS after the sample edge (1 ps tolerance for the comparison of real
  // times).  Between conversions that process would only write `valid <= 0` to a 0.
  always begin : converter
    reg latched;  // `valid` was set at this clock edge: drop it at the next one
    wait (converting);
    latched = 1'b0;
    while (converting || latched) begin
      @(posedge clk);
      latched = 1'b0;
      valid <= 1'b0;
      if (converting && $realtime >= t_rise_ns + CONV_NS - 0.001) begin
        code <= quantize(vin);
        valid <= 1'b1;
        converting = 1'b0;
        latched = 1'b1;
      end
    end
  end
  /* verilator lint_on BLKSEQ */
endmodule
