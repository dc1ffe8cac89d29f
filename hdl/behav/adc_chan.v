// One channel of a behavioural ADC (not synthesizable): real voltage -> code, latched at the
// rising edge of `conv` (the end of a conversion, timed elsewhere: hdl/behav/adc_behav.v).
//   unipolar (BIPOLAR = 0): code = round(v * 2**BITS / FS_V), clipped to 0 .. 2**BITS-1
//   bipolar  (BIPOLAR = 1): code = round(v * 2**(BITS-1) / FS_V) + 2**(BITS-1) (offset binary),
//                           clipped to 0 .. 2**BITS-1 (input range -FS_V .. FS_V)
// Rounding is to nearest, halves up (floor(x + 0.5)).  Channels that share a sample-and-hold
// command and a conversion time share one timing (adc_behav's `valid`): a channel costs the
// simulator one wake per conversion, not one per clock edge of the conversion.
`timescale 1ns / 1ps

module adc_chan #(
    parameter integer BITS = 12,
    parameter real FS_V = 1.0,
    parameter integer BIPOLAR = 0
) (
    input wire conv,
    input real vin,
    output reg [BITS-1:0] code
);
  initial code = {BITS{1'b0}};

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

  always @(posedge conv) code <= quantize(vin);
endmodule
