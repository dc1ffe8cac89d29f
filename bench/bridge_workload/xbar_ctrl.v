// Shared workload of bench/bench_bridge.py: a 1 MHz controller drives one row of a 5x6
// crossbar at a time (1.0 V for one clock, rows in turn) for N_PULSES pulses; the columns
// come back as `real` inputs, sampled by the bridge on the falling clock edge.
`timescale 1ns / 1ps
module xbar_ctrl #(
    parameter N_ROWS = 5,
    parameter N_PULSES = 1000
) (
    input  wire clk,
    output reg  busy,
    output reg  [N_ROWS-1:0] row_on
);
    integer pulses;
    initial begin busy = 1'b1; row_on = {N_ROWS{1'b0}}; pulses = 0; end
    always @(posedge clk) begin
        if (pulses < N_PULSES) begin
            row_on <= {{(N_ROWS-1){1'b0}}, 1'b1} << (pulses % N_ROWS);
            pulses <= pulses + 1;
        end else begin
            row_on <= {N_ROWS{1'b0}};
            busy <= 1'b0;
        end
    end
endmodule

module bench_top;
    parameter N_PULSES = 1000;
    reg clk = 1'b0;
    always #500 clk = ~clk;
    wire busy;
    wire [4:0] row_on;
    real col0 = 0.0, col1 = 0.0, col2 = 0.0, col3 = 0.0, col4 = 0.0, col5 = 0.0;
    xbar_ctrl #(.N_PULSES(N_PULSES)) u_ctrl (.clk(clk), .busy(busy), .row_on(row_on));
endmodule

// spicebind's view of the same workload: the analog block is an empty stub instance whose
// ports ngspice backs (inputs -> sources V<port>, real outputs <- nodes of the same name).
module xbar_analog (
    input wire r0, input wire r1, input wire r2, input wire r3, input wire r4,
    output real c0, output real c1, output real c2, output real c3, output real c4,
    output real c5
);
endmodule

module spicebind_top;
    parameter N_PULSES = 1000;
    reg clk = 1'b0;
    always #500 clk = ~clk;
    wire busy;
    wire [4:0] row_on;
    real col0, col1, col2, col3, col4, col5;
    wire real c0, c1, c2, c3, c4, c5;
    xbar_ctrl #(.N_PULSES(N_PULSES)) u_ctrl (.clk(clk), .busy(busy), .row_on(row_on));
    xbar_analog u_analog (.r0(row_on[0]), .r1(row_on[1]), .r2(row_on[2]), .r3(row_on[3]),
        .r4(row_on[4]), .c0(c0), .c1(c1), .c2(c2), .c3(c3), .c4(c4), .c5(c5));
    always @(negedge clk) if (busy) begin
        col0 = c0; col1 = c1; col2 = c2; col3 = c3; col4 = c4; col5 = c5;
    end
    initial begin
        wait (busy == 1'b0);
        $display("COLS %.12e %.12e %.12e %.12e %.12e %.12e", col0, col1, col2, col3, col4, col5);
        $finish;
    end
endmodule
