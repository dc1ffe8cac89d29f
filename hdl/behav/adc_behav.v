// Behavioural sample-and-hold ADC: real voltage -> code (not synthesizable).
//
// The sample-and-hold takes its sample at the rising edge of `sample` (the analog bridge
// writes `vin` at that instant and holds it).  After CONV_NS the converter latches `vin` at
// the next rising clock edge, drives `code` and pulses `valid` for one clock.  The transfer
// function is adc_chan's (hdl/behav/adc_chan.v), which latches `vin` at `valid`'s rising edge.
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
    output wire [BITS-1:0] code,
    output reg valid
);
  real t_rise_ns;
  reg converting;
  reg latched;  // `valid` was set at this clock edge: drop it at the next one
  initial begin
    valid = 1'b0;
    converting = 1'b0;
    latched = 1'b0;
    t_rise_ns = 0.0;
  end

  adc_chan #(.BITS(BITS), .FS_V(FS_V), .BIPOLAR(BIPOLAR)) u_chan (
      .conv(valid), .vin(vin), .code(code));

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
  // plain `always @(posedge clk)` would: `valid` for one clock from the first clock edge
  // >= CONV_NS after the sample edge (1 ps tolerance for the comparison of real times).
  // Between conversions that process would only write `valid <= 0` to a 0.
  always begin
    wait (converting);
    latched = 1'b0;
    while (converting || latched) begin
      @(posedge clk);
      latched = 1'b0;
      valid <= 1'b0;
      if (converting && $realtime >= t_rise_ns + CONV_NS - 0.001) begin
        valid <= 1'b1;
        converting = 1'b0;
        latched = 1'b1;
      end
    end
  end
  /* verilator lint_on BLKSEQ */
endmodule
