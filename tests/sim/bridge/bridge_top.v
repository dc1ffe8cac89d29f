// bridge_top: a scripted HDL side for the lockstep bridge's unit bench (tests/sim/bridge).
//
// No controller: an initial block changes the ports that drive the analog side and the
// sample strobe at fixed times (SCHEDULE in bridge_tests.py mirrors it).
`timescale 1ns / 1ps

module bridge_top (
    output reg [1:0] sel,
    output reg en,
    output reg adc_sample,
    output real v_prog,
    output real v_in,
    input real v_sense
);
  real r_prog, r_in;  // driven by the schedule
  assign v_prog = r_prog;
  assign v_in = r_in;

  initial begin
    sel = 2'd0;
    en = 1'b0;
    adc_sample = 1'b0;
    r_prog = 0.0;
    r_in = 0.0;
    #100 r_prog = 1.0;              // one change
    #100 sel = 2'd1;                // 200 ns: two changes in one time step,
    #0 r_prog = 0.5;                //   in different delta cycles
    #100 adc_sample = 1'b1;         // 300 ns: sample
    #50 adc_sample = 1'b0;          // 350 ns: falling edge, no sample
    #50 r_prog = 0.25;              // 400 ns
    #100 r_in = 0.2;                // 500 ns: a change and a sample together
    adc_sample = 1'b1;
    #100 en = 1'b1;                 // 600 ns: three changes, one of them the strobe falling
    sel = 2'd2;
    adc_sample = 1'b0;
    #100 sel = 2'd0;                // 700 ns
    r_prog = 0.0;
  end
endmodule
