// Every-sync samples through the bridge (tests/test_vpisync.py): a real output drives an RC
// (through gain 2), the RC's node and the source current come back at every wake of the bridge.
`timescale 1ns / 1ps
module rc_top;
    real v_drv = 0.0;
    real v_out = 0.0;
    real i_src = 0.0;
    reg  hi = 1'b0;
    initial begin
        #1000 v_drv = 0.25;
        repeat (40) #200 v_drv = v_drv + 0.005;
        #1500 v_drv = 0.0;
        repeat (20) #150 v_drv = v_drv + 0.01;
    end
endmodule
