// Test harness of the SAR ADC example: a 10 MHz clock, the analog input as a `real` the test
// sets (it drives the deck's `vin`), and the comparator output `cmp` that the bridge writes
// (logic through a hysteresis threshold on the deck's comparator node).
`timescale 1ns / 1ps
module sar_top;
    parameter N = 8;
    reg clk = 1'b0;
    always #50 clk = ~clk;
    reg start = 1'b0;
    real v_in = 0.0;
    reg cmp = 1'b0;
    wire samp, done;
    wire [N-1:0] dac, code;
    sar_logic #(.N(N)) u_sar (
        .clk(clk), .start(start), .cmp(cmp), .samp(samp), .dac(dac), .done(done), .code(code)
    );
endmodule
