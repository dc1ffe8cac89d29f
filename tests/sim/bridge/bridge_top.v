// bridge_top: a scripted HDL side for the lockstep bridge's unit bench (tests/sim/bridge).
//
// No controller: an initial block changes the ports that drive the analog side and the ADC
// sample strobe at fixed times (the schedule in bridge_tests.py mirrors it).  The ports carry
// the names of the crossbar harness (hdl/behav/xbar_top.v) that the bridge follows.
`timescale 1ns / 1ps

module bridge_top (
    output reg [29:0] sel,
    output reg infer_en,
    output reg adc_sample,
    output real v_prog,
    output real v_in0,
    output real v_in1,
    output real v_in2,
    output real v_in3,
    output real v_in4,
    output real v_in5,
    output real v_in6,
    output real v_in7,
    output real v_in8,
    input real v_sense,
    input real v_h0,
    input real v_h1,
    input real v_h2,
    input real v_out
);
  real r_prog, r_in0, r_in1, r_in2, r_in3, r_in4, r_in5, r_in6, r_in7, r_in8;  // driven by the schedule
  assign v_prog = r_prog;
  assign v_in0 = r_in0;
  assign v_in1 = r_in1;
  assign v_in2 = r_in2;
  assign v_in3 = r_in3;
  assign v_in4 = r_in4;
  assign v_in5 = r_in5;
  assign v_in6 = r_in6;
  assign v_in7 = r_in7;
  assign v_in8 = r_in8;

  initial begin
    sel = 30'd0;
    infer_en = 1'b0;
    adc_sample = 1'b0;
    r_prog = 0.0;
    r_in0 = 0.0; r_in1 = 0.0; r_in2 = 0.0; r_in3 = 0.0; r_in4 = 0.0;
    r_in5 = 0.0; r_in6 = 0.0; r_in7 = 0.0; r_in8 = 0.0;
    #100 r_prog = 1.0;                       // one change
    #100 sel = 30'd1;                        // 200 ns: two changes in one time step,
    #0 r_prog = 0.5;                         //   in different delta cycles
    #100 adc_sample = 1'b1;                  // 300 ns: sample
    #50 adc_sample = 1'b0;                   // 350 ns: falling edge, no sample
    #50 r_prog = 0.25;                       // 400 ns
    #100 r_in3 = 0.2;                        // 500 ns: a change and a sample together
    adc_sample = 1'b1;
    #100 infer_en = 1'b1;                    // 600 ns
    r_in0 = 0.1;
    adc_sample = 1'b0;
    #100 sel = 30'd0;                        // 700 ns
    r_prog = 0.0;
  end
endmodule
