// Behavioural DAC: code -> real voltage (zero-order hold, not synthesizable).
//   unsigned (SIGNED = 0): v = code * FS_V / 2**BITS             (0 .. FS_V - 1 LSB)
//   signed   (SIGNED = 1): v = code_2c * FS_V / 2**(BITS-1)      (-FS_V .. FS_V - 1 LSB)
// The output is 0.0 while en = 0.  It is recomputed only when code or en change, and an
// event on vout happens only when the value actually changes.
`timescale 1ns / 1ps

module dac_behav #(
    parameter integer BITS = 12,
    parameter real FS_V = 1.0,
    parameter integer SIGNED = 0
) (
    input wire en,
    input wire [BITS-1:0] code,
    output real vout
);
  real v;
  initial v = 0.0;
  always @(code or en) begin
    if (!en) v = 0.0;
    else if (SIGNED != 0) v = $itor($signed(code)) * FS_V / (2.0 ** (BITS - 1));
    else v = $itor(code) * FS_V / (2.0 ** BITS);
  end
  assign vout = v;
endmodule
