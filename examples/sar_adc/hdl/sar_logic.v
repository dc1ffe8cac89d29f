// Successive-approximation register: synthesizable Verilog-2005, digital only.
// One conversion per `start`: SAMPLE_CYCLES clocks of sampling (samp = 1), one clock for the
// top plate to float, then N trial clocks. At each rising edge the comparator output `cmp`
// (1: input above the DAC) decides the bit under trial; the next bit is tried at once.
`timescale 1ns / 1ps
module sar_logic #(
    parameter N = 8,
    parameter SAMPLE_CYCLES = 4
) (
    input  wire         clk,
    input  wire         start,
    input  wire         cmp,
    output reg          samp,
    output reg  [N-1:0] dac,
    output reg          done,
    output reg  [N-1:0] code
);
    localparam IDLE = 2'd0, SAMPLE = 2'd1, FLOAT = 2'd2, CONV = 2'd3;
    reg [1:0] state;
    reg [7:0] count;
    reg [7:0] bit_i;

    initial begin
        state = IDLE; samp = 1'b0; dac = {N{1'b0}}; done = 1'b0; code = {N{1'b0}};
        count = 8'd0; bit_i = 8'd0;
    end

    always @(posedge clk) begin
        case (state)
            IDLE: if (start) begin
                samp <= 1'b1; dac <= {N{1'b0}}; done <= 1'b0; count <= 8'd0; state <= SAMPLE;
            end
            SAMPLE: begin
                count <= count + 8'd1;
                if (count == SAMPLE_CYCLES - 1) begin samp <= 1'b0; state <= FLOAT; end
            end
            FLOAT: begin
                dac[N-1] <= 1'b1; bit_i <= N - 1; state <= CONV;
            end
            CONV: begin
                if (!cmp) dac[bit_i] <= 1'b0;
                if (bit_i == 0) begin
                    code <= cmp ? dac : (dac & ~({{(N-1){1'b0}}, 1'b1}));
                    done <= 1'b1;
                    state <= IDLE;
                end else begin
                    dac[bit_i-1] <= 1'b1;
                    bit_i <= bit_i - 8'd1;
                end
            end
        endcase
    end
endmodule
